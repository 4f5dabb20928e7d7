"""nsid.results - nsid-eval's predictions, the results store and a scan's model inputs as arrays.

read_store needs only the standard library (numpy arrays when numpy is there, lists otherwise);
load_predictions and load_inputs need numpy and h5py.
"""
import os
import sqlite3
import urllib.parse


def load_predictions(path):
    """nsid-eval --predictions FILE.h5 -> {data_key: {name: numpy array}}, one entry per scan
    (docs/train.md): predictions and responses (test trials x neurons, file order), trials (their
    indices in the scan file), unit_ids, and the per-neuron measures (val_corr, test_corr,
    test_corr_avg, oracle, fev, feve, gt_corr, rf_dist where computed)."""
    import h5py

    out = {}
    with h5py.File(path, "r") as f:
        for key in f:
            g = f[key]
            if isinstance(g, h5py.Group):
                out[key] = {name: g[name][()] for name in g if isinstance(g[name], h5py.Dataset)}
    if not out:
        raise ValueError(f"{path}: no scan groups (not an nsid-eval predictions file?)")
    return out


def _column(values):
    """A column's values -> numpy array (int64 if all integers, float64 with NaN for NULL if numeric,
    else object), or the list itself without numpy."""
    try:
        import numpy as np
    except ImportError:
        return values
    present = [v for v in values if v is not None]
    if present and all(isinstance(v, int) for v in present):
        if len(present) == len(values):
            return np.array(values, dtype=np.int64)
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    if present and all(isinstance(v, (int, float)) for v in present):
        return np.array([np.nan if v is None else float(v) for v in values], dtype=np.float64)
    a = np.empty(len(values), dtype=object)
    a[:] = values
    return a


def read_store(path, view, where=None, params=()):
    """A table or view of an nsid results store (results.db or a run's run.db; views in
    results/README.md) -> {column: array}, columns in the view's order. The store is opened
    read-only; view must name an existing table or view. where: an optional SQL condition
    (with ? placeholders bound to params), e.g. read_store(db, "run_scores", "experiment = ?", ("fig3",)).
    Arrays are numpy arrays (int64, float64 with NaN for NULL, or object for text) when numpy is
    installed, else lists."""
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such store")
    uri = "file:" + urllib.parse.quote(os.path.abspath(path)) + "?mode=ro"
    con = sqlite3.connect(uri, uri=True)
    try:
        known = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")}
        if view not in known:
            raise ValueError(f"{path}: {view}: no such table or view (there are {len(known)}: "
                             f"{', '.join(sorted(known)[:12])}{', ...' if len(known) > 12 else ''})")
        sql = 'SELECT * FROM "' + view.replace('"', '""') + '"'
        if where:
            sql += " WHERE " + where
        try:
            cur = con.execute(sql, tuple(params))
        except sqlite3.Error as e:
            raise ValueError(f"{path}: {view}: {e}") from None
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
    finally:
        con.close()
    return {n: _column([r[i] for r in rows]) for i, n in enumerate(names)}


def _stat(f, name, kind, fallback):
    """statistics/<name>/all/<kind> of a scan file as float32, else computed (ddof 0) from fallback() (all trials)."""
    import numpy as np

    p = f"statistics/{name}/all/{kind}"
    if p in f:
        return np.asarray(f[p][()], dtype=np.float32)
    a = np.asarray(fallback(), dtype=np.float64)
    axis = None if name == "images" else 0
    v = a.mean(axis=axis) if kind == "mean" else a.std(axis=axis)
    return np.asarray(v, dtype=np.float32)


def load_inputs(path, trials=None, normalize_images=False):
    """A scan's inputs as nsid's model sees them (src/data/transform.h): {"images" (T,C,H,W)
    float32, raw 0..255 or z-scored with the file's image statistics (normalize_images, i.e. the
    run's data.normalize_images), "pupil_center" (T,2) (x - mean) / std and "behavior" (T,3)
    x / std (where the file has them), "trials"} for the given trial indices (default all).
    path: an HDF5 StaticImageSet scan (nsid-simulate / nsid-convert output)."""
    import h5py
    import numpy as np

    out = {}
    with h5py.File(path, "r") as f:
        n = f["images"].shape[0]
        idx = np.arange(n) if trials is None else np.asarray(trials, dtype=np.int64)
        if idx.size and (idx.min() < 0 or idx.max() >= n):
            raise ValueError(f"{path}: trial index out of range 0..{n - 1}")
        uniq, back = np.unique(idx, return_inverse=True)

        def rows(name):
            return np.asarray(f[name][uniq], dtype=np.float32)[back]

        x = rows("images")
        if normalize_images:
            def pixelwise(a):
                return a.reshape(x.shape[1:]) if a.size > 1 else a.reshape(())

            mean = pixelwise(_stat(f, "images", "mean", lambda: f["images"][()]))
            std = pixelwise(_stat(f, "images", "std", lambda: f["images"][()]))
            x = ((x - mean) / std).astype(np.float32)
        out["images"] = x
        if "pupil_center" in f:
            allp = lambda: f["pupil_center"][()]  # noqa: E731
            m, s = _stat(f, "pupil_center", "mean", allp), _stat(f, "pupil_center", "std", allp)
            s = np.where(s > 0, s, np.float32(1))
            out["pupil_center"] = ((rows("pupil_center") - m) / s).astype(np.float32)
        if "behavior" in f:
            s = _stat(f, "behavior", "std", lambda: f["behavior"][()]).astype(np.float32)
            thr = 0.01 * (s.astype(np.float64).sum() / s.size)
            q = np.where(s.astype(np.float64) > thr, np.float32(1) / s, np.float32(1) / np.float32(thr))
            out["behavior"] = (rows("behavior") * q.astype(np.float32)).astype(np.float32)
        out["trials"] = idx
    return out
