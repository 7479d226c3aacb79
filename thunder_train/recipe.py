"""The training recipe: every setting of the shipped model's training, from ``recipe.toml``, one root seed.

    recipe = Recipe.load()                      # thunder_train/recipe.toml
    recipe = Recipe.load(path, smoke=True)      # the file's [smoke] tables merged over it
    recipe.train_config("diffusion", m2s_path=..., sync_path=..., init_from=...)   # TrainConfig of one run
    recipe.seed_for("generator.diffusion")     # every sub-seed is derived from the root seed by name

The file is the only source of the shipped model's training settings: the config dataclasses it fills
(``BuildConfig``, ``M2SConfig``, ``SyncConfig``, ``LipReaderConfig``, ``NetConfig``, ``BatchConfig``,
``AugmentConfig``, ``TrainConfig``, ``EvalConfig``) get every field from it, and a section that misses a
field or has an unknown one is an error. The training configs (``TrainConfig``, ``BatchConfig``,
``NetConfig``'s settings, the judges') have no defaults at all; ``BuildConfig``, ``AugmentConfig`` and
``EvalConfig`` keep theirs for standalone use (tests, ``thunder-train eval`` on other corpora), and the
recipe sets every one of those fields. The evaluation's metric definitions (``evaluation.closure.
ClosureConfig``: thresholds in mm) are measurement definitions, not training settings, and stay there.
``Recipe.data`` (the merged settings, as used) and ``Recipe.hash`` go into every checkpoint and the
exported model card.
"""
from __future__ import annotations

import copy
import hashlib
import json
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

DEFAULT_PATH = Path(__file__).with_name("recipe.toml")
RUN_KEYS = {"variant", "steps", "init", "lr_scale", "warmup", "w_anchor"}


class RecipeError(ValueError):
    """A recipe file that is missing settings, has unknown ones or inconsistent runs."""


def derive_seed(root: int, name: str) -> int:
    """Sub-seed ``name`` of the root seed: the first 31 bits of sha256("<root>:<name>").

    Derived by name, not by position, so adding a run or a judge never changes the others' seeds.
    """
    digest = hashlib.sha256(f"{int(root)}:{name}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFF_FFFF


def _merge(base: dict, over: dict, where: str = "") -> dict:
    """Deep copy of ``base`` with ``over``'s values; ``over`` may only name keys that ``base`` has."""
    out = copy.deepcopy(base)
    for k, v in over.items():
        if k not in out:
            raise RecipeError(f"override {where}{k} names no setting of the recipe")
        out[k] = _merge(out[k], v, f"{where}{k}.") if isinstance(v, dict) and isinstance(out[k], dict) else v
    return out


def _exact(section: dict, names: set[str], where: str) -> None:
    missing, unknown = names - set(section), set(section) - names
    if missing or unknown:
        parts = ([f"missing {sorted(missing)}"] if missing else []) + ([f"unknown {sorted(unknown)}"] if unknown else [])
        raise RecipeError(f"recipe section [{where}]: " + ", ".join(parts))


def _fill(cls, section: dict, where: str, given: dict | None = None, tuples: tuple[str, ...] = ()):
    """``cls(**section, **given)`` after checking that section + given cover exactly cls's fields."""
    given = given or {}
    _exact(section, {f.name for f in fields(cls)} - set(given), where)
    vals = {k: tuple(v) if k in tuples else v for k, v in section.items()}
    return cls(**vals, **given)


def parse_override(item: str) -> dict:
    """``"generator.train.lr=1e-3"`` -> ``{"generator": {"train": {"lr": 0.001}}}`` (value in TOML syntax)."""
    key, sep, value = item.partition("=")
    if not sep or not key.strip():
        raise RecipeError(f"override {item!r} is not KEY=VALUE")
    try:
        parsed = tomllib.loads(f"v = {value.strip()}")["v"]
    except tomllib.TOMLDecodeError:
        raise RecipeError(f"override {item!r}: the value is not TOML (quote strings: key='\"text\"')") from None
    out: dict = parsed
    for part in reversed(key.strip().split(".")):
        out = {part: out}
    return out


def canonical_json(data: dict) -> str:
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Recipe:
    """Merged recipe settings (``data``, JSON-able) and where they came from."""

    data: dict
    path: str
    smoke: bool = False

    overrides: tuple[str, ...] = ()

    @classmethod
    def load(cls, path: str | Path | None = None, smoke: bool = False,
             overrides: list[str] | tuple[str, ...] = ()) -> Recipe:
        """The recipe file (default ``thunder_train/recipe.toml``); ``smoke`` merges its [smoke] tables;
        ``overrides`` are ``"dotted.key=TOML value"`` strings applied last."""
        path = Path(path) if path is not None else DEFAULT_PATH
        if not path.is_file():
            raise RecipeError(f"recipe file not found: {path}")
        try:
            raw = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise RecipeError(f"{path} is not valid TOML: {e}") from None
        smoke_tables = raw.pop("smoke", {})
        data = _merge(raw, smoke_tables, "smoke.") if smoke else raw
        for item in overrides:
            data = _merge(data, parse_override(item))
        recipe = cls(data=data, path=str(path), smoke=smoke, overrides=tuple(overrides))
        recipe.validate()
        return recipe

    @classmethod
    def from_dict(cls, data: dict, path: str = "<checkpoint>") -> Recipe:
        recipe = cls(data=copy.deepcopy(data), path=path)
        recipe.validate()
        return recipe

    # --- identity -------------------------------------------------------------------------------------
    @property
    def hash(self) -> str:
        """sha256 of the canonical JSON of the settings as used (16 hex digits)."""
        return hashlib.sha256(canonical_json(self.data).encode()).hexdigest()[:16]

    @property
    def seed(self) -> int:
        return int(self.data["seed"])

    def seed_for(self, name: str) -> int:
        return derive_seed(self.seed, name)

    def provenance(self) -> dict:
        """What checkpoints and model cards store: the settings, their hash and the file they came from."""
        return {"recipe": copy.deepcopy(self.data), "recipe_hash": self.hash, "recipe_smoke": self.smoke,
                "recipe_overrides": list(self.overrides)}

    # --- validation -------------------------------------------------------------------------------------
    def validate(self) -> None:
        d = self.data
        _exact(d, {"seed", "runtime", "corpus", "judges", "generator", "evaluation", "export"}, "top level")
        if not isinstance(d["seed"], int) or d["seed"] < 0:
            raise RecipeError(f"seed must be a non-negative integer, got {d['seed']!r}")
        _exact(d["runtime"], {"generator_threads", "judge_threads"}, "runtime")
        _exact(d["judges"], {"max_items", "val_items", "m2s", "sync", "lipreader"}, "judges")
        _exact(d["generator"], {"net", "batch", "augment", "train", "runs"}, "generator")
        _exact(d["export"], {"ddim_steps", "mouth_temperature", "status", "ship"}, "export")
        runs = d["generator"]["runs"]
        if not runs:
            raise RecipeError("recipe has no generator runs")
        seen: list[str] = []
        for name, run in runs.items():
            _exact(run, RUN_KEYS, f"generator.runs.{name}")
            if run["init"] and run["init"] not in seen:
                raise RecipeError(f"run {name!r} starts from {run['init']!r}, which is not an earlier run")
            if int(run["steps"]) < 1:
                raise RecipeError(f"run {name!r}: steps must be >= 1")
            seen.append(name)
        # building every config checks every section's keys against the dataclass fields
        self.build_config(Path("."))
        self.m2s_config("mouth")
        self.sync_config("sync_loss")
        self.lipreader_config()
        for name in runs:
            self.train_config(name)
        self.eval_config()

    # --- configs ------------------------------------------------------------------------------------------
    def build_config(self, out: Path, workers: int = 2, card: Path | None = None):
        from thunder_train.corpus.alignments import DEFAULT_DIR as ALIGNMENTS
        from thunder_train.corpus.build import BuildConfig

        c = self.data["corpus"]
        try:
            return _fill(BuildConfig, c, "corpus", {"out": out, "seed": self.seed_for("corpus"), "workers": workers,
                                                    "card": card, "cache": Path("data/cache"),
                                                    "alignments": ALIGNMENTS},
                         tuples=("real_sources",))
        except RecipeError:
            raise
        except ValueError as e:  # BuildConfig's own checks (e.g. an unknown real_sources entry)
            raise RecipeError(f"recipe section [corpus]: {e}") from None

    def judge_items_seed(self) -> int:
        return self.seed_for("judges.items")

    def m2s_config(self, inputs: str):
        from thunder_train.judges.m2s import M2SConfig

        return _fill(M2SConfig, self.data["judges"]["m2s"], "judges.m2s", tuples=("dilations",),
                     given={"inputs": inputs, "seed": self.seed_for(f"judges.m2s_{inputs}"),
                            "max_items": self.data["judges"]["max_items"]})

    def sync_config(self, name: str):
        from thunder_train.judges.sync import SyncConfig

        return _fill(SyncConfig, self.data["judges"]["sync"], "judges.sync", given={"seed": self.seed_for(f"judges.{name}")})

    def lipreader_config(self):
        from thunder_train.judges.lipreader import LipReaderConfig

        return _fill(LipReaderConfig, self.data["judges"]["lipreader"], "judges.lipreader", tuples=("dilations",),
                     given={"seed": self.seed_for("judges.lipreader"), "max_items": self.data["judges"]["max_items"]})

    def net_config(self):
        from thunder_train.networks import NetConfig

        fixed = {"n_mels", "n_emotions", "n_phones", "n_phone_input", "n_visemes", "n_channels"}  # data contract, not settings
        net = self.data["generator"]["net"]
        _exact(net, {f.name for f in fields(NetConfig)} - fixed, "generator.net")
        return NetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in net.items()})

    def batch_config(self):
        from dataclasses import fields as dc_fields

        from thunder_train.corpus.augment import AugmentConfig
        from thunder_train.data import BatchConfig

        AUGMENT_RANGES = tuple(f.name for f in dc_fields(AugmentConfig) if not f.name.startswith("p_"))

        g = self.data["generator"]
        aug = _fill(AugmentConfig, g["augment"], "generator.augment", tuples=AUGMENT_RANGES)
        return _fill(BatchConfig, g["batch"], "generator.batch", given={"augmentation": aug})

    @property
    def runs(self) -> dict[str, dict]:
        return self.data["generator"]["runs"]

    def train_config(self, run: str, m2s_path: str | None = None, sync_path: str | None = None,
                     init_from: str | None = None):
        """TrainConfig of generator run ``run`` (judge and init checkpoints are paths known at run time)."""
        from thunder_train.train import TrainConfig

        if run not in self.runs:
            raise RecipeError(f"no generator run {run!r} in the recipe (runs: {', '.join(self.runs)})")
        r = self.runs[run]
        shared = dict(self.data["generator"]["train"])
        if "lr" not in shared:
            raise RecipeError("recipe section [generator.train]: missing ['lr']")
        lr = float(shared.pop("lr")) * float(r["lr_scale"])
        return _fill(TrainConfig, shared, "generator.train", given={
            "variant": r["variant"], "steps": int(r["steps"]), "lr": lr, "warmup": int(r["warmup"]),
            "w_anchor": float(r["w_anchor"]), "seed": self.seed_for(f"generator.{run}"),
            "threads": self.data["runtime"]["generator_threads"], "m2s_path": m2s_path, "sync_path": sync_path,
            "init_from": init_from, "batch": self.batch_config(), "net": self.net_config()})

    def eval_config(self):
        from thunder_train.evaluation.closure import ClosureConfig
        from thunder_train.evaluation.run import EvalConfig

        e = dict(self.data["evaluation"])
        _exact(e, {"take_seeds", "max_utts", "splits", "max_offset"}, "evaluation")
        return EvalConfig(seeds=tuple(e["take_seeds"]), max_utts=e["max_utts"], splits=tuple(e["splits"]),
                          max_offset=e["max_offset"], subset_seed=self.seed_for("evaluation.subset"),
                          closure=ClosureConfig())
