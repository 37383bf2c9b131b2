"""Mutation testing of the modules where a silent bug costs most (see docs/testing.md).

Copies the working tree (tracked and untracked, not ignored files) to a temporary folder,
points mutmut at the chosen modules there and runs it, then prints one line per module:
killed, survived, timed out, and the score. Nothing in the checkout is touched.

    python scripts/mutation.py                      # every module in MODULES
    python scripts/mutation.py thsources/sqlbind.py # one module
    python scripts/mutation.py --show-survivors thsources/output.py
    python scripts/mutation.py --children 1 --survivors-file /tmp/survivors.diff
    python scripts/mutation.py thsources/output.py --mutants 'thsources.output.x_render*'

Each module's tests are the files listed in MODULES plus ``tests/test_mutants_<module>.py``
when it exists. Survivors judged equivalent (no test could tell them from the original) are
listed with a reason in ``scripts/mutation_equivalent.txt``; the score counts them out, and a
listed name that no longer survives is reported, since its numbering may have moved.

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
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

# Modules whose silent bugs cost most, each with the tests that exercise it. mutmut then runs,
# for each mutant, only those of these tests that reach the mutated function.
MODULES: dict[str, list[str]] = {
    # test_named_queries.py is left out: it is slow (one mutant held a run for minutes) and
    # binds through sqlbind without reading the bound text; the database tests read it.
    "thsources/sqlbind.py": ["tests/test_sqlbind.py", "tests/test_sqlbind_databases.py"],
    "thsources/config.py": [
        "tests/test_config.py",
        "tests/test_cli.py",
        "tests/test_secrets_hidden.py",
    ],
    "thsources/http.py": ["tests/test_http.py", "tests/test_redash_tls.py"],
    "thsources/output.py": ["tests/test_cli.py", "tests/test_output.py", "tests/test_cli_many.py"],
    "thsources/coltypes.py": ["tests/test_result.py", "tests/test_jsonrows.py"],
    "thsources/jsonrows.py": ["tests/test_jsonrows.py"],
    "thsources/polling.py": ["tests/test_polling.py"],
    "thsources/sources/redash.py": [
        "tests/test_redash_source.py",
        "tests/test_redash_same_text.py",
        "tests/test_redash_tls.py",
        # The result fetched again after a cut download (RedashJob._decode_body), over a
        # real socket: mocked HTTP cannot cut a body part-way.
        "tests/test_httpbody.py",
    ],
}
# Extra pytest arguments per module. mutmut gives a mutant (time of its tests + 1) * 15 seconds
# before it calls it a timeout; a mutant that makes a job never finish (the tests poll every
# few ms) or turns a loop into an endless one spins that long, minutes each. A per-test limit
# on the test function alone (the tests take well under a second each) ends those in seconds
# and counts them as killed. jsonrows.py's chunk reader runs in Arrow's I/O thread, out of
# reach of SIGALRM, hence the thread method there (it ends the mutant's process); its
# benchmark smoke test runs the decoder in a subprocess mutmut cannot see, so it only costs.
PYTEST_ARGS: dict[str, list[str]] = {
    "thsources/jsonrows.py": [
        "--timeout=60",
        "--timeout-method=thread",
        "-o",
        "timeout_func_only=true",
        "--deselect=tests/test_jsonrows.py::test_benchmark_runner_smoke",
    ],
    "thsources/sources/redash.py": ["--timeout=20", "-o", "timeout_func_only=true"],
    # A scanner mutant whose index stops moving loops forever; 30 s was too short for the
    # hypothesis tests under load, so mutmut refused to run.
    "thsources/sqlbind.py": ["--timeout=120"],
}
_LINE = re.compile(r"^\s*(?P<name>\S+): (?P<status>[a-z ]+)$")
EQUIVALENT_FILE = Path(__file__).with_name("mutation_equivalent.txt")


def tests_for(module: str) -> list[str]:
    """The module's listed tests plus its mutant-killing file, if there is one."""
    extra = f"tests/test_mutants_{Path(module).stem}.py"
    return [*MODULES[module], *([extra] if Path(extra).exists() else [])]


def load_equivalent(path: Path = EQUIVALENT_FILE) -> dict[str, str]:
    """Mutant name -> why it is equivalent, from lines ``name  reason`` (``#`` comments)."""
    if not path.exists():
        return {}
    equivalent: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(" ")
        equivalent[name] = reason.strip()
    return equivalent


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
            'also_copy = ["queries/", "benchmarks/"]\n'
        )
        if module in PYTEST_ARGS:
            args = ", ".join(f'"{a}"' for a in PYTEST_ARGS[module])
            f.write(f"pytest_add_cli_args = [{args}]\n")


def run_module(
    module: str,
    tests: list[str],
    children: int,
    show: bool,
    survivors_file: Path | None,
    equivalent: dict[str, str],
    mutants: list[str],
) -> None:
    with tempfile.TemporaryDirectory(prefix="thsources-mutation-") as tmp:
        work = Path(tmp)
        _copy_tree(work)
        _configure(work, module, tests)
        env = dict(os.environ)
        env.setdefault("THSOURCES_CACHE_DIR", str(Path(tempfile.gettempdir()) / "thsources-mut"))
        ran = subprocess.run(
            ["mutmut", "run", "--max-children", str(children), *mutants],
            cwd=work,
            env=env,
            check=False,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        if ran.returncode != 0:
            # Most often the unmutated tests failed: mutmut then judges nothing.
            tail = "\n".join(ran.stdout.splitlines()[-30:])
            print(f"{module}: mutmut failed (exit {ran.returncode}):\n{tail}", file=sys.stderr)
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
        known = []
        for line in out.splitlines():
            m = _LINE.match(line)
            if not m or m["status"] == "not checked":
                continue
            # A mutant no test reaches survives as surely as one the tests miss.
            status = "survived" if m["status"] == "no tests" else m["status"]
            if status == "survived" and m["name"] in equivalent:
                counts["equivalent"] += 1
                known.append(m["name"])
                continue
            counts[status] += 1
            if status == "survived":
                survivors.append(m["name"])
        diffs = []
        for name in survivors:
            diffs.append(
                subprocess.run(
                    ["mutmut", "show", name], cwd=work, env=env, capture_output=True, text=True
                ).stdout
            )
    if show:
        print("\n".join(diffs))
    if survivors_file is not None:
        with survivors_file.open("a", encoding="utf-8") as f:
            f.write(f"### {module}: {len(survivors)} survivors\n" + "\n".join(diffs))
    prefix = module.removesuffix(".py").replace("/", ".") + "."
    listed = [n for n in equivalent if n.startswith(prefix)]
    stale = [] if mutants else [n for n in listed if n not in known]
    for name in stale:
        print(f"{module}: listed as equivalent but did not survive: {name}", file=sys.stderr)
    killed, survived, timeout = counts["killed"], counts["survived"], counts["timeout"]
    judged = killed + survived + timeout
    score = 100.0 * (killed + timeout) / judged if judged else 0.0
    other = sum(counts.values()) - judged - counts["equivalent"]
    print(
        f"{module}: {judged + counts['equivalent']} mutants, {killed} killed, "
        f"{timeout} timed out, {counts['equivalent']} equivalent, {survived} survived, "
        f"other {other}: score {score:.1f}% (equivalent excluded)",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="modules to mutate (default: all listed)")
    parser.add_argument("--children", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--show-survivors", action="store_true", help="print each survivor's diff")
    parser.add_argument(
        "--survivors-file", type=Path, help="append each survivor's diff to this file"
    )
    parser.add_argument(
        "--mutants",
        nargs="+",
        default=[],
        metavar="NAME",
        help="run only these mutants (fnmatch patterns), e.g. to check new tests kill survivors",
    )
    args = parser.parse_args()
    if shutil.which("mutmut") is None:
        print("mutmut is not installed: pip install 'mutmut==3.8.1'", file=sys.stderr)
        return 2
    modules = args.modules or list(MODULES)
    for module in modules:
        if module not in MODULES:
            print(f"unknown module {module}; choose from {', '.join(MODULES)}", file=sys.stderr)
            return 2
    equivalent = load_equivalent()
    for module in modules:
        # A mutant that takes a device for a regular file replaces any device a test writes
        # to; the output tests use device nodes of their own, and this catches a new one.
        if not stat.S_ISCHR(os.lstat("/dev/null").st_mode):
            print("/dev/null is not a device: a test replaced it; stopping", file=sys.stderr)
            return 3
        run_module(
            module,
            tests_for(module),
            args.children,
            args.show_survivors,
            args.survivors_file,
            equivalent,
            args.mutants,
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
