"""Mutation testing of the modules where a silent bug costs most (see docs/testing.md).

Copies the working tree (tracked and untracked, not ignored files) to a temporary folder,
points mutmut at the chosen modules there and runs it, then prints one line per module:
killed, survived, timed out, and the score. Nothing in the checkout is touched.

    python scripts/mutation.py                      # every module in MODULES
    python scripts/mutation.py thsources/sqlbind.py # one module
    python scripts/mutation.py --show-survivors thsources/output.py

mutmut was chosen over cosmic-ray because it records which tests cover each function once and
then runs only those tests for each mutant in a forked process: on two cores that is minutes
per module instead of a whole-suite run per mutant.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Modules whose silent bugs cost most, each with the tests that exercise it. mutmut then runs,
# for each mutant, only those of these tests that reach the mutated function.
MODULES: dict[str, list[str]] = {
    "thsources/sqlbind.py": ["tests/test_sqlbind.py", "tests/test_named_queries.py"],
    "thsources/config.py": ["tests/test_config.py", "tests/test_cli.py"],
    "thsources/http.py": ["tests/test_http.py"],
    "thsources/output.py": ["tests/test_cli.py", "tests/test_output.py"],
    "thsources/coltypes.py": ["tests/test_result.py", "tests/test_jsonrows.py"],
    "thsources/jsonrows.py": ["tests/test_jsonrows.py"],
    "thsources/polling.py": ["tests/test_polling.py"],
    "thsources/sources/redash.py": ["tests/test_redash_source.py"],
}
_LINE = re.compile(r"^\s*(?P<name>\S+): (?P<status>[a-z ]+)$")


def _copy_tree(dest: Path) -> None:
    files = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        check=True,
        capture_output=True,
    ).stdout.split(b"\0")
    for raw in files:
        if not raw:
            continue
        src = Path(os.fsdecode(raw))
        if not src.is_file():
            continue
        target = dest / src
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)


def _configure(work: Path, module: str, tests: list[str]) -> None:
    existing = [t for t in tests if (work / t).exists()]
    if not existing:
        raise SystemExit(f"no tests found for {module}: {tests}")
    quoted = ", ".join(f'"{t}"' for t in existing)
    with (work / "pyproject.toml").open("a", encoding="utf-8") as f:
        f.write(
            "\n[tool.mutmut]\n"
            'source_paths = ["thsources/"]\n'
            f'only_mutate = ["{module}"]\n'
            f"pytest_add_cli_args_test_selection = [{quoted}]\n"
            'also_copy = ["queries/"]\n'
        )


def run_module(module: str, tests: list[str], children: int, show: bool) -> tuple[int, int, int]:
    with tempfile.TemporaryDirectory(prefix="thsources-mutation-") as tmp:
        work = Path(tmp)
        _copy_tree(work)
        _configure(work, module, tests)
        env = dict(os.environ)
        env.setdefault("THSOURCES_CACHE_DIR", str(Path(tempfile.gettempdir()) / "thsources-mut"))
        subprocess.run(
            ["mutmut", "run", "--max-children", str(children)],
            cwd=work,
            env=env,
            check=False,
            stdout=subprocess.DEVNULL,
        )
        out = subprocess.run(
            ["mutmut", "results", "--all", "true"],
            cwd=work,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        counts: collections.Counter[str] = collections.Counter()
        survivors = []
        for line in out.splitlines():
            m = _LINE.match(line)
            if m:
                counts[m["status"]] += 1
                if m["status"] == "survived":
                    survivors.append(m["name"])
        if show:
            for name in survivors:
                diff = subprocess.run(
                    ["mutmut", "show", name], cwd=work, env=env, capture_output=True, text=True
                ).stdout
                print(diff)
    killed = counts["killed"]
    survived = counts["survived"]
    timeout = counts["timeout"]
    total = killed + survived + timeout
    score = 100.0 * (killed + timeout) / total if total else 0.0
    print(
        f"{module}: {total} mutants, {killed} killed, {timeout} timed out, "
        f"{survived} survived, other {sum(counts.values()) - total}: score {score:.1f}%",
        flush=True,
    )
    return killed, survived, timeout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="modules to mutate (default: all listed)")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--show-survivors", action="store_true", help="print each survivor's diff")
    args = parser.parse_args()
    if shutil.which("mutmut") is None:
        print("mutmut is not installed: pip install 'mutmut==3.8.1'", file=sys.stderr)
        return 2
    modules = args.modules or list(MODULES)
    for module in modules:
        if module not in MODULES:
            print(f"unknown module {module}; choose from {', '.join(MODULES)}", file=sys.stderr)
            return 2
        run_module(module, MODULES[module], args.children, args.show_survivors)
    return 0


if __name__ == "__main__":
    sys.exit(main())
