"""A scoring script in the shape Azure ML's batch driver calls: init() once, run(mini_batch) per mini batch."""
import os


def init():
    global model_dir
    model_dir = os.environ["AZUREML_MODEL_DIR"]


def run(mini_batch):
    return [[os.path.basename(path), os.path.getsize(path)] for path in mini_batch]
