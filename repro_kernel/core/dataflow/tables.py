"""The library tables the code-facts analysis reads: which calls seed, draw, mutate, fetch or configure what.

Kept apart from the AST walk (:mod:`repro_kernel.core.dataflow.scopes`, :mod:`repro_kernel.core.dataflow.calls`)
so that teaching the analysis a new library is a change to a table, not to the visitor.
"""

from __future__ import annotations

import builtins
import re

from repro_kernel.core.names import ALWAYS_BOUND

# Names a cell reads without any cell having bound them: Python's builtins and what IPython binds itself.
BUILTIN_NAMES = frozenset(dir(builtins)) | ALWAYS_BOUND

# Methods that change their receiver in place (lists, dicts, sets, NumPy, estimators). pandas methods that
# only mutate with ``inplace=True`` are not here: that keyword is handled on its own.
MUTATING_METHODS = frozenset(
    {
        "append", "extend", "insert", "remove", "pop", "clear", "sort", "reverse", "update",
        "setdefault", "popitem", "add", "discard", "difference_update", "intersection_update",
        "symmetric_difference_update", "fill", "resize", "put", "itemset", "setflags",
        "fit", "partial_fit", "fit_transform", "fit_predict", "set_params", "load_state_dict",
        "appendleft", "extendleft", "rotate", "move_to_end", "write", "writelines", "seek", "close",
        "set_index_inplace", "__setitem__", "__delitem__",
    }
)

# Functions that change their first argument in place: ``random.shuffle(x)``, ``np.copyto(dst, src)``...
ARG_MUTATING_FUNCTIONS = frozenset(
    {
        "shuffle", "copyto", "fill_diagonal", "put", "place", "putmask", "heappush", "heappop", "heapify",
        "heappushpop", "heapreplace", "insort", "insort_left", "insort_right", "setattr", "delattr",
    }
)

# Calls that seed a random source; the value is the source they seed.
SEED_CALLS = {
    "random.seed": "python",
    "seed": None,  # bare `seed(...)` after `from random import seed` or similar: source unknown
    "np.random.seed": "numpy",
    "numpy.random.seed": "numpy",
    "torch.manual_seed": "torch",
    "torch.cuda.manual_seed": "torch_cuda",
    "torch.cuda.manual_seed_all": "torch_cuda",
    "tf.random.set_seed": "tensorflow",
    "tensorflow.random.set_seed": "tensorflow",
    "tf.keras.utils.set_random_seed": "all",
    "keras.utils.set_random_seed": "all",
    "set_random_seed": "all",
    "seed_everything": "all",
    "pl.seed_everything": "all",
    "lightning.seed_everything": "all",
}

# Constructors of random generators: seeded if called with an argument.
GENERATOR_CALLS = frozenset(
    {"default_rng", "RandomState", "Generator", "PCG64", "MT19937", "Philox", "SFC64", "Random"}
)

# Module prefixes whose functions draw from a global random state, and the source each one draws from.
DRAW_PREFIXES = (
    ("np.random.", "numpy"),
    ("numpy.random.", "numpy"),
    ("random.", "python"),
    ("torch.", "torch"),
    ("tf.random.", "tensorflow"),
    ("tensorflow.random.", "tensorflow"),
)
NOT_DRAWS = frozenset(
    {"seed", "get_state", "set_state", "getstate", "setstate", "default_rng", "RandomState", "Generator",
     "PCG64", "MT19937", "Philox", "SFC64", "SeedSequence", "Random", "SystemRandom", "BitGenerator",
     "manual_seed", "set_seed", "get_rng_state", "set_rng_state", "initial_seed", "get_global_generator",
     "set_global_generator", "stateless_normal", "stateless_uniform"}
)
TORCH_DRAWS = frozenset(
    {"rand", "randn", "randint", "randperm", "rand_like", "randn_like", "randint_like", "normal",
     "bernoulli", "multinomial", "poisson"}
)

# scikit-learn callables that draw from NumPy's global state unless given ``random_state``.
RANDOM_STATE_CALLS = frozenset(
    {"train_test_split", "RandomForestClassifier", "RandomForestRegressor", "ExtraTreesClassifier",
     "ExtraTreesRegressor", "GradientBoostingClassifier", "GradientBoostingRegressor", "KMeans", "MiniBatchKMeans",
     "TSNE", "ShuffleSplit", "StratifiedShuffleSplit", "MLPClassifier", "MLPRegressor", "SGDClassifier",
     "SGDRegressor", "IsolationForest", "RandomizedSearchCV", "make_classification", "make_regression",
     "make_blobs", "DecisionTreeClassifier", "DecisionTreeRegressor"}
)

# Magics whose argument or body is Python that runs in the user's namespace.
PYTHON_LINE_MAGICS = frozenset({"time", "timeit", "prun", "debug", "capture"})
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "prun", "debug", "capture", "memit", "snakeviz"})

# Settings that make a GPU framework deterministic (what the `nondeterministic-gpu` flag looks for).
DETERMINISM_CALLS = {
    "torch.use_deterministic_algorithms": "torch",
    "use_deterministic_algorithms": "torch",
    "tf.config.experimental.enable_op_determinism": "tensorflow",
    "tensorflow.config.experimental.enable_op_determinism": "tensorflow",
    "enable_op_determinism": "tensorflow",
}
DETERMINISM_ATTRIBUTES = {"torch.backends.cudnn.deterministic": "torch"}
DETERMINISM_ENV = {
    "CUBLAS_WORKSPACE_CONFIG": "torch",
    "TF_DETERMINISTIC_OPS": "tensorflow",
    "TF_CUDNN_DETERMINISTIC": "tensorflow",
    "XLA_FLAGS": "jax",
}

# Calls that fetch data from the network, by their last name (plus URL literals anywhere).
NETWORK_CALLS = frozenset(
    {"urlopen", "urlretrieve", "fetch_openml", "fetch_california_housing", "fetch_20newsgroups",
     "fetch_covtype", "fetch_lfw_people", "fetch_olivetti_faces", "load_dataset", "get_file", "hf_hub_download",
     "snapshot_download", "download_url", "read_html"}
)
NETWORK_MODULE_PREFIXES = ("requests.", "httpx.", "urllib.request.", "wget.", "gdown.", "boto3.", "kaggle.")
# Modules whose ARG_MUTATING_FUNCTIONS are meant when called through the module (`np.copyto`, `heapq.heappush`).
ARG_MUTATING_MODULES = frozenset({"np", "numpy", "random", "heapq", "bisect", "np.random", "numpy.random"})

# What `!command` and `%%bash` bodies reveal: downloads and package installs.
SHELL_NETWORK = re.compile(r"\b(wget|curl|kaggle|gsutil|aws\s+s3|git\s+clone|gdown)\b")
SHELL_INSTALL = re.compile(r"\b(pip3?|conda|mamba|micromamba|uv\s+pip|poetry|apt(-get)?)\s+(install|add|update|upgrade)\b")

# String literals: URLs, absolute paths (which do not travel to another machine) and GPU device names.
URL = re.compile(r"^(https?|ftp|s3|gs|gcs|az|hf)://", re.IGNORECASE)
ABSOLUTE_PATH = re.compile(r"^(?:~[/\\]|/(?!/)|[A-Za-z]:[\\/])[^\n\r\t<>|*?\"]*[\w.]$")
GPU_WORDS = re.compile(r"\b(cuda(:\d+)?|gpu(:\d+)?|mps)\b", re.IGNORECASE)
# Calls that write or move files: an absolute path passed to one is an output, not an input to check.
WRITE_CALL = re.compile(r"(save|dump|write|^to_|mkdir|makedirs|savefig|export|chdir|rmtree|remove|unlink)")

# -- what the replay's slice needs: effects of a cell that no name shows --

# Magics whose effect outlives the cell and cannot be seen as a name.
STATEFUL_MAGICS = frozenset(
    {
        "matplotlib", "pylab", "config", "cd", "env", "run", "load", "load_ext", "reload_ext",
        "autoreload", "aimport", "pip", "conda", "sx", "system", "alias", "precision", "store",
        "sql", "writefile", "bash", "sh", "script", "capture",
    }
)
# Cell magics that run their body as ordinary Python in the user's namespace.
TRANSPARENT_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun"})
# Calls that change process-wide state: kept whatever names they touch.
GLOBAL_STATE = re.compile(
    r"set_option|set_printoptions|seterr|style\.use|rcParams|rc\(|filterwarnings|simplefilter|chdir|"
    r"sys\.path|os\.environ|putenv|setlocale|set_theme|sns\.set|set_config|torch\.use_deterministic|"
    r"register_|sys\.setrecursionlimit|np\.seterr"
)

# Methods known not to change their receiver: a call of any other method on a session variable may (the
# export's slice keeps such a step when the variable is needed; flags need more than a maybe).
PURE_METHODS = frozenset(
    {
        "head", "tail", "describe", "info", "copy", "sum", "mean", "median", "std", "var", "min", "max",
        "count", "nunique", "unique", "value_counts", "groupby", "agg", "aggregate", "apply", "map", "pipe",
        "sort_values", "sort_index", "reset_index", "set_index", "drop", "drop_duplicates", "dropna", "fillna",
        "rename", "merge", "join", "astype", "to_numpy", "tolist", "to_list", "to_dict", "to_frame", "to_csv",
        "to_json", "to_string", "to_markdown", "to_html", "keys", "values", "items", "get", "index", "find",
        "startswith", "endswith", "split", "rsplit", "strip", "lstrip", "rstrip", "lower", "upper", "title",
        "replace", "format", "encode", "decode", "round", "reshape", "transpose", "ravel", "flatten", "dot",
        "any", "all", "argmax", "argmin", "argsort", "cumsum", "cumprod", "isnull", "isna", "notnull", "notna",
        "query", "predict", "predict_proba", "predict_log_proba", "score", "transform", "decision_function",
        "summary", "conf_int", "corr", "cov", "diff", "pct_change", "rolling", "resample", "shift", "where",
        "mask", "clip", "abs", "prod", "quantile", "nlargest", "nsmallest", "sample", "iterrows", "itertuples",
        "plot", "hist", "boxplot", "bar", "barh", "scatter", "pivot", "pivot_table", "melt", "stack", "unstack",
        "explode", "isin", "between", "equals", "memory_usage", "select_dtypes", "filter", "assign",
        "get_params", "item", "view", "squeeze", "swapaxes", "nonzero", "searchsorted", "conjugate",
        "subs", "evalf", "simplify", "expand", "factor", "diff_", "integrate", "series", "doit", "free_symbols",
        "__repr__", "__str__", "__len__", "__contains__", "__getitem__", "__eq__",
        "issubset", "issuperset", "union", "intersection", "difference", "symmetric_difference", "isdisjoint",
        "count_nonzero", "is_integer", "bit_length", "hex", "fromkeys", "casefold", "zfill", "center",
        "ljust", "rjust", "partition", "rpartition", "splitlines", "isdigit", "isalpha", "isnumeric",
    }
)

# Functions that neither change their arguments nor any state (a dropped result of any other imported
# function may have changed the process's state: ``init_printing()``).
PURE_FUNCTIONS = frozenset(
    {
        "print", "display", "pprint", "Markdown", "HTML", "Image", "Latex", "Math", "SVG", "JSON",
        "len", "repr", "str", "type", "isinstance", "sorted", "list", "dict", "set", "tuple", "sum", "min", "max",
        "abs", "round", "help", "dir", "vars", "id", "hash", "format",
    }
)

# Attribute reads and methods whose result may share memory with the receiver (NumPy, pandas, torch).
VIEW_ATTRIBUTES = frozenset({"T", "mT", "real", "imag", "flat", "values", "data", "loc", "iloc", "at", "iat"})
VIEW_METHODS = frozenset(
    {"view", "reshape", "ravel", "transpose", "squeeze", "swapaxes", "expand_dims", "as_strided", "narrow",
     "view_as", "detach", "numpy", "to_numpy", "__array__", "asarray", "diagonal", "unsqueeze", "permute"}
)
