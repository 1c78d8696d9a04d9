class Trainer:
    pass
