"""The results store: SQLite in the sweep's output folder (``DIR/results.sqlite``).

Tables:

- ``meta``: key → value (the config as JSON, its hash, the semantic-figure status, the
  MTGC weights' identity).
- ``results``: one row per (config hash, image, codec, channel, SNR, budget, trial) with
  every figure, the outcome and per-stream JSON (sent, bits, MCS, channel uses, CRC,
  pre-FEC BER, iterations). The primary key makes a resumed sweep skip what is done. The
  default metrics' fields have columns of their own; any other metric's go into the JSON
  column ``figures`` (:mod:`semcom.metrics.scoring`), so a new metric needs no migration.
  A store written before that column existed gains it, empty, when a sweep opens it to
  write; readers (plot, export) leave the file as it is.
- ``images``: PNG reconstructions of the first ``save_images`` images at trial 0 (and
  the originals, codec ``original``), for the reconstruction grid.

Beside it, ``DIR/runs.jsonl`` logs one line per ``semcom sweep`` call (points written,
decoder calls, seconds per stage): wall-clock facts stay out of the results file.

Each group of points is written in one transaction, so an interrupted sweep (even one
killed with SIGKILL) leaves only complete rows; the next open rolls an unfinished
transaction back. A sweep holds an exclusive lock on ``DIR/.sweep.lock`` while it writes
(:meth:`Store.lock`), so a second sweep into the same folder is refused; the kernel drops
the lock when the process ends, however it ends.

Determinism: :meth:`Store.digest` is a SHA-256 over every result row and PNG of a config
in key order, equal across runs, executors and resumes; :meth:`Store.outcome_digest` the
same over the discrete outcomes and rounded figures only (what another install's codec
libraries cannot move); and once a sweep is complete
:meth:`Store.canonicalize` rewrites the file with every table in key order, so the same
config gives a byte-identical ``results.sqlite`` (with the same SQLite library) however
its points were computed, in what order, and after how many interruptions.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from semcom.errors import SemcomError
from semcom.metrics.scoring import EXTRA, FIGURES

STORE_NAME = "results.sqlite"
LOCK_NAME = ".sweep.lock"
RUNS_NAME = "runs.jsonl"
KEY_COLUMNS = ("config_hash", "image", "codec", "channel", "snr_db", "budget_cpp", "trial")
#: The images table's primary key: a result's key without the trial.
IMAGE_KEY_COLUMNS = KEY_COLUMNS[:-1]
VALUE_COLUMNS = (
    "seed",
    "budget_uses",
    "channel_uses",
    "payload_bits",
    "bpp",
    "success",
    "not_sent",
    "streams",
    "detail",
    "received_key",
    *FIGURES,
    EXTRA,
)
COLUMNS = KEY_COLUMNS + VALUE_COLUMNS

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS results (
    config_hash TEXT, image INTEGER, codec TEXT, channel TEXT, snr_db REAL,
    budget_cpp REAL, trial INTEGER,
    seed INTEGER, budget_uses INTEGER, channel_uses INTEGER, payload_bits INTEGER,
    bpp REAL, success INTEGER, not_sent TEXT, streams TEXT, detail TEXT, received_key TEXT,
    {", ".join(f"{f} REAL" for f in FIGURES)}, {EXTRA} TEXT,
    PRIMARY KEY ({", ".join(KEY_COLUMNS)})
);
CREATE TABLE IF NOT EXISTS images (
    config_hash TEXT, image INTEGER, codec TEXT, channel TEXT, snr_db REAL,
    budget_cpp REAL, png BLOB,
    PRIMARY KEY ({", ".join(IMAGE_KEY_COLUMNS)})
);
"""


class Store:
    """A sweep's SQLite store in folder ``path`` (created when missing)."""

    def __init__(self, path: str | Path, create: bool = True) -> None:
        self.dir = Path(path)
        file = self.dir / STORE_NAME
        if not create and not file.is_file():
            raise SemcomError(f"{self.dir} holds no sweep results ({STORE_NAME} is missing).")
        if create:
            if self.dir.exists() and not self.dir.is_dir():
                raise SemcomError(f"{self.dir} exists and is not a folder.")
            self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = None
        try:
            self.db = sqlite3.connect(file)
            self.db.executescript(_SCHEMA)
            if create:
                self._add_extra_column()
        except sqlite3.DatabaseError as err:
            raise SemcomError(f"{file} is not a readable sweep store ({err}).") from err

    def _columns(self) -> list[str]:
        """The results table's columns, in table order."""
        return [r[1] for r in self.db.execute("PRAGMA table_info(results)")]

    def _add_extra_column(self) -> None:
        """The one migration: stores from before metrics were data lack ``figures``."""
        if EXTRA not in self._columns():
            with self.db:
                self.db.execute(f"ALTER TABLE results ADD COLUMN {EXTRA} TEXT")

    def close(self) -> None:
        self.db.close()
        if self._lock is not None:
            self._lock.close()  # closing the file releases the lock
            self._lock = None

    def lock(self) -> None:
        """Take the folder's writer lock, or raise :class:`SemcomError` naming the process
        that holds it. Held until :meth:`close` or the end of the process."""
        import fcntl

        if self._lock is not None:
            return
        f = open(self.dir / LOCK_NAME, "a+")  # noqa: SIM115 - held until close()
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            f.seek(0)
            holder = f.read().strip() or "unknown"
            f.close()
            raise SemcomError(
                f"another sweep (pid {holder}) is writing to {self.dir}; wait for it to "
                "finish or choose another --out folder."
            ) from None
        f.seek(0)
        f.truncate()
        f.write(str(os.getpid()))
        f.flush()
        self._lock = f

    # -- meta ----------------------------------------------------------------------------
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def set_meta(self, values: Mapping[str, str]) -> None:
        with self.db:
            self.db.executemany(
                "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", list(values.items())
            )

    def config_hashes(self) -> list[str]:
        return [r[0] for r in self.db.execute("SELECT DISTINCT config_hash FROM results")]

    def rehash(self, old: str, new: str) -> None:
        """Relabel the rows and PNGs of config hash ``old`` as ``new`` (the same config,
        hashed by older code; :func:`experiments.sweep.check_store`)."""
        with self.db:
            for table in ("results", "images"):
                self.db.execute(
                    f"UPDATE {table} SET config_hash = ? WHERE config_hash = ?", (new, old)
                )

    def count(self, config_hash: str) -> int:
        q = "SELECT COUNT(*) FROM results WHERE config_hash = ?"
        return int(self.db.execute(q, (config_hash,)).fetchone()[0])

    def done_keys(self, config_hash: str) -> set[tuple]:
        """Keys (image, codec, channel, snr_db, budget_cpp, trial) already stored."""
        q = f"SELECT {', '.join(KEY_COLUMNS[1:])} FROM results WHERE config_hash = ?"
        return {tuple(r) for r in self.db.execute(q, (config_hash,))}

    # -- writing -------------------------------------------------------------------------
    def write(self, rows: Iterable[Mapping[str, Any]], images: Iterable[tuple] = ()) -> None:
        """Insert result rows and reconstruction PNGs in one transaction."""
        marks = ", ".join("?" * len(COLUMNS))
        q = f"INSERT OR REPLACE INTO results ({', '.join(COLUMNS)}) VALUES ({marks})"
        values = [tuple(_sql(row.get(c)) for c in COLUMNS) for row in rows]
        try:
            with self.db:  # one transaction: all of the group or none of it
                self.db.executemany(q, values)
                self.db.executemany(
                    "INSERT OR REPLACE INTO images VALUES (?, ?, ?, ?, ?, ?, ?)", list(images)
                )
        except sqlite3.OperationalError as err:
            if "full" not in str(err) and "disk I/O" not in str(err):
                raise
            raise SemcomError(
                f"the disk holding {self.dir / STORE_NAME} is full ({err}); the store keeps "
                "every group written before this one: free space, then run the sweep again "
                "with --resume."
            ) from None

    def add_run(
        self, config_hash: str, started: str, finished: str, points: int, calls: dict, seconds: dict
    ) -> None:
        """Append one invocation's facts to ``DIR/runs.jsonl``."""
        line = json.dumps(
            {
                "config_hash": config_hash,
                "started": started,
                "finished": finished,
                "points": points,
                "decoder_calls": calls,
                "seconds": seconds,
            },
            sort_keys=True,
        )
        with open(self.dir / RUNS_NAME, "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def runs(self) -> list[dict]:
        """The logged invocations, oldest first."""
        path = self.dir / RUNS_NAME
        if not path.is_file():
            return []
        return [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x]

    def canonicalize(self) -> None:
        """Rewrite ``results.sqlite`` with meta, results and images in key order (a fresh
        file, swapped in atomically): equal contents give equal bytes. Call with the
        lock held and no transaction open."""
        file = self.dir / STORE_NAME
        tmp = self.dir / f".{STORE_NAME}.tmp"
        self._move_old_runs()
        tmp.unlink(missing_ok=True)
        dst = sqlite3.connect(tmp)
        try:
            dst.executescript(_SCHEMA)
            dst.execute("ATTACH DATABASE ? AS src", (str(file),))
            keys = ", ".join(KEY_COLUMNS)
            with dst:
                dst.execute("INSERT INTO meta SELECT * FROM src.meta ORDER BY key")
                dst.execute(
                    f"INSERT INTO results ({', '.join(COLUMNS)}) SELECT {', '.join(COLUMNS)} "
                    f"FROM src.results ORDER BY {keys}"
                )
                dst.execute(
                    "INSERT INTO images SELECT * FROM src.images "
                    f"ORDER BY {', '.join(IMAGE_KEY_COLUMNS)}"
                )
            dst.execute("DETACH DATABASE src")
        finally:
            dst.close()
        self.db.close()
        os.replace(tmp, file)
        self.db = sqlite3.connect(file)

    def _move_old_runs(self) -> None:
        """Stores written before runs.jsonl kept a ``runs`` table: log its rows there."""
        q = "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'runs'"
        if self.db.execute(q).fetchone() is None:
            return
        for h, started, finished, points, calls, seconds in self.db.execute(
            "SELECT * FROM runs"
        ).fetchall():
            self.add_run(h, started, finished, points, json.loads(calls), json.loads(seconds))

    # -- reading -------------------------------------------------------------------------
    def latest_hash(self) -> str:
        h = self.get_meta("config_hash")
        if h is None:
            raise SemcomError(f"{self.dir} holds no finished or started sweep.")
        return h

    def frame(self, config_hash: str | None = None):
        """The results as a pandas DataFrame, per-stream JSON flattened into
        ``<stream>_<field>`` columns."""
        import pandas as pd

        h = config_hash or self.latest_hash()
        df = pd.read_sql_query(
            "SELECT * FROM results WHERE config_hash = ? ORDER BY codec, channel, "
            "budget_cpp, snr_db, image, trial",
            self.db,
            params=(h,),
        )
        if df.empty:
            return df
        flat = []
        for text in df["streams"]:
            row = {}
            for name, s in json.loads(text).items():
                for k, v in s.items():
                    row[f"{name}_{k}"] = v
            flat.append(row)
        streams = pd.DataFrame(flat, index=df.index)
        texts = df[EXTRA] if EXTRA in df else [None] * len(df)
        extra = pd.DataFrame(
            [json.loads(x) if isinstance(x, str) else {} for x in texts], index=df.index
        )
        drop = ["streams", EXTRA] if EXTRA in df else ["streams"]
        return pd.concat([df.drop(columns=drop), extra, streams], axis=1)

    def digest(self, config_hash: str | None = None) -> str:
        """SHA-256 (hex) of every result row and stored PNG of ``config_hash`` (default:
        the latest config), in key order, each keyed by the point's own coordinates (the
        config hash that selects them is not hashed: a schema that grows changes no
        digest); equal digests mean equal results, to the last bit. An empty ``figures``
        column is left out, so rows of the default metrics hash as they did before the
        column existed."""
        sha = hashlib.sha256()
        for row in self._rows(config_hash):
            sha.update(json.dumps(list(row.values())).encode())
            sha.update(b"\n")
        h = config_hash or self.latest_hash()
        q = f"SELECT * FROM images WHERE config_hash = ? ORDER BY {', '.join(IMAGE_KEY_COLUMNS)}"
        for row in self.db.execute(q, (h,)):
            sha.update(json.dumps([*row[1:-1], hashlib.sha256(row[-1]).hexdigest()]).encode())
            sha.update(b"\n")
        return sha.hexdigest()

    def outcome_digest(self, config_hash: str | None = None) -> str:
        r"""SHA-256 (hex) of what the points produced that a last-digit difference of a codec
        or numerics library cannot move: every row's discrete fields exactly (bits, MCS,
        channel uses, CRC outcomes, transmissions, deliveries, semantic counts) and every
        float rounded (:data:`OUTCOME_DECIMALS`: dB figures to
        0.01, the others to 10⁻⁴); no PNGs. Equal outcome digests with different
        :meth:`digest`\ s mean the same outcomes with pixels that differ in the last digits."""
        sha = hashlib.sha256()
        for row in self._rows(config_hash):
            rounded = {
                k: _rounded(k, _parsed(k, v)) for k, v in row.items() if k not in NOT_OUTCOMES
            }
            sha.update(json.dumps(rounded, sort_keys=True).encode())
            sha.update(b"\n")
        return sha.hexdigest()

    def _rows(self, config_hash: str | None) -> Iterable[dict[str, Any]]:
        """The rows of ``config_hash`` (default: the latest) in key order, as
        column -> value without the config hash (an empty ``figures`` left out)."""
        h = config_hash or self.latest_hash()
        keys = ", ".join(KEY_COLUMNS)
        have = set(self._columns())
        cols = [c for c in COLUMNS if c in have and c != "config_hash"]
        q = f"SELECT {', '.join(cols)} FROM results WHERE config_hash = ? ORDER BY {keys}"
        for row in self.db.execute(q, (h,)):
            out = dict(zip(cols, row, strict=True))
            if out.get(EXTRA, 0) is None:
                del out[EXTRA]
            yield out

    def images(self, config_hash: str | None = None) -> list[tuple]:
        h = config_hash or self.latest_hash()
        q = "SELECT image, codec, channel, snr_db, budget_cpp, png FROM images "
        q += "WHERE config_hash = ?"
        return list(self.db.execute(q, (h,)))


#: Decimals a float keeps in :meth:`Store.outcome_digest`: dB figures (a name with "psnr"
#: or "_db") to 0.01 dB, every other float to 10⁻⁴.
OUTCOME_DECIMALS = {"db": 2, "other": 4}
#: Columns the outcome digest leaves out: the receiver-input key hashes an analog codec's
#: received float symbols (a digital codec's deliveries are in ``streams``).
NOT_OUTCOMES = ("received_key",)
#: The store's JSON columns (parsed before rounding, so the floats inside are rounded too).
JSON_COLUMNS = ("not_sent", "streams", "detail", EXTRA)


def _parsed(column: str, value: Any) -> Any:
    if column in JSON_COLUMNS and isinstance(value, str):
        return json.loads(value)
    return value


def _rounded(name: str, value: Any) -> Any:
    """``value`` with every float rounded (:data:`OUTCOME_DECIMALS`, by the innermost key
    that names it); integers, strings and booleans as they are."""
    if isinstance(value, dict):
        return {k: _rounded(str(k), v) for k, v in value.items()}
    if isinstance(value, list):
        return [_rounded(name, v) for v in value]
    if isinstance(value, float):
        db = "psnr" in name or name.endswith("_db")
        out = round(value, OUTCOME_DECIMALS["db" if db else "other"])
        return out + 0.0  # no -0.0
    return value


def _sql(value: Any) -> Any:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, sort_keys=True)
    if isinstance(value, bool):
        return int(value)
    return value


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file, so no half-written file remains."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
