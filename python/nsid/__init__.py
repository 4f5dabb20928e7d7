"""nsid - trained nsid models, predictions and results in Python (docs/python.md).

    import sys; sys.path.insert(0, "NSID/python")     # NSID: the nsid source folder
    import nsid
    model = nsid.load_model("results/runs/<id>/checkpoint.h5")   # torch.nn.Module, eval mode
    pred = nsid.load_predictions("results/runs/<id>/pred.h5")    # {data_key: {name: array}}
    scores = nsid.read_store("results/results.db", "run_scores") # {column: array}

No build step. Importing nsid imports nothing beyond the standard library: read_store needs
only sqlite3 (numpy for arrays, else lists), load_predictions and load_inputs numpy and h5py,
load_model also torch (Debian: python3-numpy, python3-h5py, python3-torch).
"""

__all__ = ["load_model", "load_predictions", "load_inputs", "read_store", "read_checkpoint",
           "write_checkpoint"]


def load_model(path, dtype=None):
    """A trained nsid model (checkpoint.h5) as a ready torch.nn.Module in evaluation mode, in
    neuralpredictors v0.0.x parameter names; see nsid.model.load_model."""
    from . import model

    return model.load_model(path) if dtype is None else model.load_model(path, dtype=dtype)


def load_predictions(path):
    """nsid-eval's predictions file -> {data_key: {name: numpy array}}; see nsid.results."""
    from . import results

    return results.load_predictions(path)


def load_inputs(path, trials=None, normalize_images=False):
    """A scan's images (and pupil centre, behaviour) as the model sees them; see nsid.results."""
    from . import results

    return results.load_inputs(path, trials, normalize_images)


def read_store(path, view, where=None, params=()):
    """A table or view of a results store -> {column: array}; see nsid.results.read_store."""
    from . import results

    return results.read_store(path, view, where, params)


def read_checkpoint(path, with_optimizer=False):
    """(state, arch, aliases, optimizer) of an nsid checkpoint; see nsid.checkpoint."""
    from . import checkpoint

    return checkpoint.read_checkpoint(path, with_optimizer)


def write_checkpoint(path, state, arch="{}", optimizer=None, aliases=None):
    """Write an nsid checkpoint atomically; see nsid.checkpoint."""
    from . import checkpoint

    return checkpoint.write_checkpoint(path, state, arch, optimizer, aliases)
