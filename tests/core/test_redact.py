"""`redact_code`: every credential written into a cell is taken out of the recorded code, and nothing else is."""

from __future__ import annotations

import time

import pytest

from repro_kernel.core.redact import REDACTED, redact_code

# Credentials as people paste them. `{v}` in a form below stands for one of them.
PASSWORDS = ["hunter2-correct-horse", "correct horse battery staple", "s3cretpass", "letmein!"]
KEYS = [
    "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",  # AWS secret access key
    "3f9a8c7d6e5b4a39281706f5e4d3c2b1",  # a hex API token
    "x9Kq2Lm8Pz4Rt6Vw1Yb3",  # 20 random characters
    "sk_live_4eC39HqLyjWDarjtT1zdp7dc",  # Stripe
]
TOKENS = [
    "AKIAIOSFODNN7EXAMPLE",
    "ghp_16C7e42F292c6912E7710c838347Ae178B4a",
    "sk-proj-abcdefghijklmnopqrstuvwx1234",
    "hf_kT3pQ9xLmN2vB7cR4sW8yZ1aD6fG0hJ5",  # real tokens are random: digits in them
    "xoxb-123456789012-abcdefghijkl",
    "AIzaSyA1234567890abcdefghijklmnopqrstuv",
    "glpat-abcdefghij0123456789",
    "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
]
PEM_BODY = "MIIEpAIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi\\nZ1Bv0l5aF2xGx3HTdYl9yM+dBsDrq8OQ=="

# A name that can only mean a credential: any value of 4 characters or more goes, spaces and all.
NAMED_FORMS = [
    "password = '{v}'",
    'os.environ["AWS_SECRET_ACCESS_KEY"] = "{v}"',
    'boto3.client("s3", aws_secret_access_key="{v}")',
    'headers = {{"X-API-Key": "{v}"}}',
    'config["db"]["password"] = "{v}"',
    'DB_PASSWORD: str = "{v}"',
    'if password == "{v}":\n    pass',
    'openai.api_key = "{v}"',
    'conn = psycopg2.connect(host="db", user="me", password="{v}", port=5432)',
    'creds = {{"user": "bob", "passwd": "{v}"}}',
    'oauth = OAuth2Session(client_id="app", client_secret="{v}")',
    'requests.get(url, auth=("alice", "{v}"))',
    'session.auth = HTTPBasicAuth("alice", "{v}")',
    "settings = dict(db_pwd=r'{v}')",
]
# Forms that need a credential-shaped value: no spaces, not made of words.
SHAPED_FORMS = [
    'os.environ.setdefault("API_KEY", "{v}")',
    'HF_TOKEN = "{v}"',
    'os.environ.update({{"GITHUB_TOKEN": "{v}", "LANG": "C"}})',
    'key = "{v}"',
    'headers = {{"Authorization": "Bearer {v}"}}',
    "!curl -H 'Authorization: Bearer {v}' https://api.example.org",
    'dsn = "host=db user=me password={v} dbname=sales"',
    "%env AWS_SECRET_ACCESS_KEY={v}",
    "x = 1\n!export API_TOKEN={v}",
    "%%bash\nexport DB_PASSWORD={v}\npsql -c 'select 1'",
    "# password: {v}",
    'url = "https://api.example.org/v1/items?page=2&api_key={v}"',
    'Path(".env").write_text("DEBUG=1\\nSECRET_KEY={v}\\n")',
]
# Random-looking values need no name at all.
ANONYMOUS_FORMS = ['payload = {{"data": "{v}"}}', 'client.call("{v}")', "x = f'{v}'"]
# Unmistakable token formats are taken out wherever they are, even in code that does not parse.
ANYWHERE_FORMS = ['value = "{v}"', "# {v}", "token = {v}", "log('using {v} now')", 'pd.read_csv("s3://b/x.csv", token="{v}")']

URL_PASSWORDS = ["s3cretpass", "p%40ss", "hunter2-correct-horse"]
URL_FORMS = [
    'db = connect("postgresql://user:{v}@host/db")',
    "r = redis.from_url('redis://:{v}@localhost:6379/0')",
    "!git clone https://bot:{v}@github.com/o/r.git",
]


def _cases() -> list[tuple[str, str]]:
    cases = [(form, value) for form in NAMED_FORMS for value in PASSWORDS + KEYS + TOKENS]
    cases += [(form, value) for form in SHAPED_FORMS for value in KEYS + TOKENS]
    cases += [(form, value) for form in ANONYMOUS_FORMS for value in KEYS[:1] + KEYS[2:] + TOKENS]
    cases += [(form, value) for form in ANYWHERE_FORMS for value in TOKENS]
    cases += [(form, value) for form in URL_FORMS for value in URL_PASSWORDS]
    cases += [
        ('key = """-----BEGIN RSA PRIVATE KEY-----\n{v}\n-----END RSA PRIVATE KEY-----"""', PEM_BODY),
        ('key = "-----BEGIN PRIVATE KEY-----\\n{v}\\n-----END PRIVATE KEY-----\\n"', PEM_BODY),
        ('sa = {{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----\\n{v}\\n'
         '-----END PRIVATE KEY-----\\n"}}', PEM_BODY),
        ("headers = {{'Authorization': 'Basic {v}'}}", "dXNlcjpzM2NyZXRwYXNz"),
        ('h = {{"Authorization": "Bearer {v}"}}', TOKENS[-1]),
    ]
    return cases


@pytest.mark.parametrize(("form", "value"), _cases())
def test_the_secret_and_only_the_secret_is_taken_out(form: str, value: str) -> None:
    code = form.format(v=value)
    redacted = redact_code(code)
    assert value not in redacted
    assert redacted == form.format(v=REDACTED)


def test_the_brief_examples() -> None:
    """The leaks that started this: each is redacted in place, the code around it kept byte for byte."""
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    cell = "\n".join(
        [
            "import boto3, os",
            f'os.environ["AWS_SECRET_ACCESS_KEY"] = "{secret}"',
            f's3 = boto3.client("s3", aws_secret_access_key="{secret}")',
            'headers = {"Authorization": "Bearer 3f9a8c7d6e5b4a39281706f5e4d3c2b1"}',
            "password = 'hunter2-correct-horse'",
            'db = connect("postgresql://user:s3cretpass@host/db")',
            'df = pd.read_csv("data.csv")',
        ]
    )
    assert redact_code(cell) == "\n".join(
        [
            "import boto3, os",
            'os.environ["AWS_SECRET_ACCESS_KEY"] = "<redacted>"',
            's3 = boto3.client("s3", aws_secret_access_key="<redacted>")',
            'headers = {"Authorization": "Bearer <redacted>"}',
            "password = '<redacted>'",
            'db = connect("postgresql://user:<redacted>@host/db")',
            'df = pd.read_csv("data.csv")',
        ]
    )


NOT_SECRETS = [
    'df = pd.read_csv("data.csv")',
    'print("hello world")',
    'df = df[["customer_id", "password", "last_login"]]',  # a column named password
    'expected_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"',
    'commit = "9fceb02d0ae598e95dc970b74767f19372d61af8"',
    'run_id = "123e4567-e89b-12d3-a456-426614174000"',
    'key = "id"',
    'df = df.sort_values("created_at", key=lambda s: s.str.lower())',
    'sort_key = "created_at_timestamp"',
    'primary_key = "customer_identifier"',
    'for key, value in {"a": 1, "b": 2}.items():\n    print(f"{key}: {value}")',
    'tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")',
    'model = AutoModel.from_pretrained("meta-llama/Llama-2-7b-chat-hf", token=True)',
    'encoder = SentenceTransformer("sentence-transformers/all-MiniLM-L6-v2")',
    'tokenizer.pad_token = "<|endoftext|>"',
    'tokens = tokenizer("hello world", padding="max_length", max_length=32)',
    "token = tokenizer(text)",
    'password = getpass.getpass("Password: ")',
    'api_key = os.environ["OPENAI_API_KEY"]',
    'client = OpenAI(api_key=os.environ.get("OPENAI_API_KEY"))',
    'print(f"token: {token}")',
    'headers = {"Authorization": f"Bearer {token}"}',
    'engine = create_engine(f"postgresql://{user}:{password}@{host}/db")',
    'engine = create_engine("postgresql://user:%s@host/db" % password)',
    'api_key_env = "OPENAI_API_KEY"',
    'private_key_path = "/home/me/.ssh/id_rsa"',
    'password_file = "secrets/db_password.txt"',
    'secret_name = "prod/db/credentials"',
    'token_url = "https://oauth2.googleapis.com/token"',
    'pd.read_hdf("store.h5", key="df_train")',
    's3.get_object(Bucket="data", Key="raw/2024/01/events.parquet")',
    'author = "Jane Doe"',
    'keyword = "python"',
    'msg = "Basic statistics of the dataset"',
    'col = "CustomerID_2023Q4_Final"',
    'url = "https://example.org/api/v1/items?page=2"',
    'password = ""',
    'if token == "[PAD]":\n    pass',
    'def f(token):\n    """token: the API token to use."""',
    "# key: value",
    'print("password:", pw)',
    'logging.info("token = %s", tok)',
    "%time total = df.temp.sum()\n!echo shell-ok",
    'label_map = {0: "negative", 1: "positive"}',
    'img = "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"',
    "x = np.random.rand(4)\nx",
    "pick = random.choice(list(df.city))\nprint(pick)",
    "sql = \"SELECT name FROM users WHERE role = 'admin'\"",
]


@pytest.mark.parametrize("code", NOT_SECRETS)
def test_ordinary_code_is_recorded_unchanged(code: str) -> None:
    assert redact_code(code) == code


TYPICAL_CELL = '''import pandas as pd
from sklearn.model_selection import train_test_split
from sklearn.ensemble import RandomForestClassifier

# Load the raw data and keep the columns we need
df = pd.read_csv("data/train.csv", parse_dates=["created_at"])
df = df[["customer_id", "age", "income", "segment", "churned"]]
df["income"] = df["income"].fillna(df["income"].median())
df = df.sort_values("created_at", key=lambda s: s.dt.year)
for key, value in {"a": 1, "b": 2}.items():
    print(f"{key}: {value}")
X = df.drop(columns=["churned"])
y = df["churned"]
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2, random_state=42)
model = RandomForestClassifier(n_estimators=200, max_depth=8, random_state=0)
model.fit(X_train, y_train)
print("accuracy:", round(model.score(X_test, y_test), 3))
importances = pd.Series(model.feature_importances_, index=X.columns).sort_values()
importances.plot(kind="barh", title="Feature importance")
summary = df.groupby("segment").agg(mean_income=("income", "mean"), n=("customer_id", "count"))
summary.to_parquet("out/summary.parquet")
expected_hash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")
tokens = tokenizer("hello world", padding="max_length", max_length=32)
results = []
for i, row in df.iterrows():
    if row["age"] > 65:
        results.append({"id": row["customer_id"], "group": "senior"})
    else:
        results.append({"id": row["customer_id"], "group": "adult"})
out = pd.DataFrame(results)
out.to_csv("out/groups.csv", index=False)
def describe(frame: pd.DataFrame) -> str:
    """Short summary of a frame."""
    return f"{len(frame)} rows, {frame.shape[1]} columns"
config = {"learning_rate": 0.01, "epochs": 10, "optimizer": "adam"}
assert config["optimizer"] in ("adam", "sgd")
resp = requests.get("https://example.org/api/v1/items?page=2", timeout=10)
'''


def test_a_typical_cell_is_kept_whole_and_quickly() -> None:
    assert redact_code.__wrapped__(TYPICAL_CELL) == TYPICAL_CELL
    # Generous (tens of microseconds is the norm): catches a pattern gone quadratic, not a slow machine.
    started = time.perf_counter()
    for _ in range(20):
        redact_code.__wrapped__(TYPICAL_CELL)
    assert (time.perf_counter() - started) / 20 < 0.02


@pytest.mark.parametrize(
    "code",
    [
        "'" + "a" * 100_000,  # unterminated literals
        '"""' + "x" * 100_000,
        '"' + "x=" * 50_000 + 'key"',
        'data = """' + "key: 1, " * 12_000 + '"""',
        "[" + ", ".join('{"key": %d}' % i for i in range(10_000)) + "]",
        'k = "-----BEGIN PRIVATE KEY-----' + "A" * 100_000,
        "# password: x\n" * 10_000,
        'k = "-----BEGIN PRIVATE KEY-----' + " " * 20_000,  # blanks after BEGIN, no END
        'k = """-----BEGIN PRIVATE KEY-----' + "\n" * 20_000,
        "-----BEGIN PRIVATE KEY-----" + " \n" * 10_000 + "-----END PRIVATE KEY",
        "-----BEGIN PRIVATE KEY-----\n" * 20_000 + "(-----END PRIVATE KEY-----",
        "password" + " " * 20_000 + '= "x"',  # blanks after a secret-like name
        "api_key" + "\n" * 20_000 + '= "x"',
        'd = {"password"' + " \t" * 10_000 + ': "x"}',
    ],
    ids=[
        "quote", "triple-quote", "chained-assignments", "keys-in-a-string", "keys", "pem", "comments",
        "pem-spaces", "pem-newlines", "pem-blank-lines", "pem-many-begins", "name-spaces", "name-newlines",
        "key-blanks",
    ],
)
def test_large_or_odd_cells_stay_linear(code: str) -> None:
    started = time.perf_counter()
    redact_code.__wrapped__(code)
    assert time.perf_counter() - started < 5.0


PEM_LINE = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7VJTUt9Us8cKj"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # A BEGIN line without END takes only the base64 lines after it, never the code that follows.
        (
            "# file starts with -----BEGIN PRIVATE KEY-----\nkey = load_key(path)",
            "# file starts with -----BEGIN PRIVATE KEY-----\nkey = load_key(path)",
        ),
        (
            'marker = "-----BEGIN PRIVATE KEY-----"\nx\npass',
            'marker = "-----BEGIN PRIVATE KEY-----"\nx\npass',
        ),
        (
            f'key = """-----BEGIN PRIVATE KEY-----\n{PEM_LINE}\n{PEM_LINE}\nZw==\n',
            'key = """-----BEGIN PRIVATE KEY-----\n<redacted>\n',
        ),
        (
            f'key = "-----BEGIN PRIVATE KEY-----\\n{PEM_LINE}\\nAB12"\nkey = load_key(key)',
            'key = "-----BEGIN PRIVATE KEY-----\\n<redacted>"\nkey = load_key(key)',
        ),
        (
            f"-----BEGIN PRIVATE KEY-----\n{PEM_LINE}\nshort\nx = 1",
            "-----BEGIN PRIVATE KEY-----\n<redacted>\nshort\nx = 1",
        ),
        # A BEGIN and an END marker with code between them: the code stays.
        (
            'if line.startswith("-----BEGIN PRIVATE KEY-----"):\n    inside = True\n'
            'elif line.startswith("-----END PRIVATE KEY-----"):\n    inside = False',
            'if line.startswith("-----BEGIN PRIVATE KEY-----"):\n    inside = True\n'
            'elif line.startswith("-----END PRIVATE KEY-----"):\n    inside = False',
        ),
    ],
    ids=["comment-then-code", "marker-then-short-lines", "triple-quoted", "escaped", "short-line", "markers"],
)
def test_a_pem_body_is_only_its_base64_lines(code: str, expected: str) -> None:
    assert redact_code(code) == expected


# URLs and paths are data locations, not keys: no entropy test on them.
DATA_LOCATIONS = [
    'df = pd.read_csv("https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms'
    '/export?format=csv")',
    'gdown.download("https://drive.google.com/uc?id=1aBcDeFgHiJkLmNoPqRsTuVwXyZ012345", "data.zip", quiet=False)',
    "df = pd.read_parquet('s3://bucket/year=2023/month=01/part-0000-3f1e2a9b-c1d2.parquet')",
    's3.get_object(Bucket="data", Key="raw/Sales2023Q1")',
    'model.save("models/XGBoostV2Final")',
    'url = "https://www.kaggle.com/datasets/owner/sales?select=TrainData2023v2.csv"',
    'p = "data/processed/TrainingSetFinalV2"',
    "!wget -O data.csv 'https://drive.google.com/uc?id=1aBcDeFgHiJkLmNoPqRsTuVwXyZ012345'",
    "# from https://docs.google.com/spreadsheets/d/1BxiMVs0XRA5nFMdKvBdBZjgmUUqptlbs74OgvE2upms/edit",
]
# Prefixed token formats need a digit: identifiers and names that start the same way stay.
TOKEN_LOOKALIKES = [
    "hf_downloadedcheckpoints = 3",
    "ghp_abcdefghijklmnopqrstuvwxyz = load()",
    'style = "sk-learn-style-name"',
    "x = sk-learn-style-name",
    'slack = "xoxb-notificationchannel"',
]
# Ordinary values next to secret-sounding words.
NOT_CREDENTIALS = [
    'cur.execute("SELECT * FROM users WHERE password = :password", {"password": pw})',
    'cur.execute("SELECT * FROM users WHERE password = ?", (pw,))',
    'cur.execute("UPDATE users SET password = %(password)s WHERE id = %(id)s", row)',
    'secretary = "Bob Smith"',
    'secret_santa = "Alice"',
    'secretive = "quite"',
    'paths = {"pwd": "working_dir"}',
    'title = "Basic Statistics2023 Overview"',
    'summary = "report: Basic Statistics2023 Overview"',
]


@pytest.mark.parametrize("code", DATA_LOCATIONS + TOKEN_LOOKALIKES + NOT_CREDENTIALS)
def test_reviewed_over_redactions_are_kept(code: str) -> None:
    assert redact_code(code) == code


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        # Still taken: tokens with digits, a base64 key holding `/`, secret names as words.
        ('hf = "hf_kT3pQ9xLmN2vB7cR4sW8yZ1aD6fG0hJ5"', 'hf = "<redacted>"'),
        ("hf_kT3pQ9xLmN2vB7cR4sW8yZ1aD6fG0hJ5 = 3", "<redacted> = 3"),
        ('k = "sk-proj-abcdefghijklmnopqrstuvwx1234"', 'k = "<redacted>"'),
        ('client.call("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")', 'client.call("<redacted>")'),
        ('Key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"', 'Key = "<redacted>"'),
        ('url = "https://x.org/v1?page=2&api_key=x9Kq2Lm8Pz4Rt6Vw1Yb3"', 'url = "https://x.org/v1?page=2&api_key=<redacted>"'),
        ('secret = "Alice"', 'secret = "<redacted>"'),
        ('client_secret = "Alice"', 'client_secret = "<redacted>"'),
        ('db_password = "Alice"', 'db_password = "<redacted>"'),
        ('PASSWORD = "Alice"', 'PASSWORD = "<redacted>"'),
        ('secret_key = "Alice"', 'secret_key = "<redacted>"'),
        ('paths = {"pwd": "s3cretpass"}', 'paths = {"pwd": "<redacted>"}'),
        ('cur.execute("UPDATE users SET password = \'hunter2x\'")', 'cur.execute("UPDATE users SET password = \'<redacted>\'")'),
        ('h = "Authorization: Basic dXNlcjpzM2NyZXRwYXNz"', 'h = "Authorization: Basic <redacted>"'),
    ],
)
def test_reviewed_secrets_are_still_taken(code: str, expected: str) -> None:
    assert redact_code(code) == expected
