"""Does every runtime dependency resolve as a wheel for a Raspberry Pi (aarch64, CPython 3.11)?

    python -m liveai.box.aarch64_check [--dest DIR] [--platform manylinux_2_28_aarch64] [--python 3.11]

runs `pip download --platform ... --only-binary=:all: --python-version 3.11 --implementation cp`
for each runtime dependency of liveai (its transitive dependencies included) and reports, per
dependency, the wheels pip chose. Exit status 0 when all resolve, 1 otherwise. --dest keeps the
wheels (e.g. inside an arm64 root, to `pip install --no-index --find-links` there).
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from importlib.metadata import PackageNotFoundError, requires
from pathlib import Path

PLATFORM = "manylinux_2_28_aarch64"
PYTHON = "3.11"
FALLBACK = ["python-rtmidi>=1.5", "mido>=1.3", "onnxruntime>=1.17", "numpy>=1.24", "python-osc>=1.8"]


def runtime_requirements() -> list[str]:
    """liveai's dependencies without extras (from the installed metadata, else pyproject's list)."""
    try:
        reqs = requires("liveai") or []
    except PackageNotFoundError:
        return list(FALLBACK)
    return [r.split(";")[0].strip() for r in reqs if "extra ==" not in r]


def pin_installed(req: str) -> str:
    """name==version of the copy installed here (the versions the tests ran with)."""
    from importlib.metadata import version
    name = re.split(r"[<>=!~ \[]", req, maxsplit=1)[0]
    try:
        return f"{name}=={version(name)}"
    except PackageNotFoundError:
        return req


def _wheels(output: str) -> list[str]:
    names = re.findall(r"(?:Saved|File was already downloaded|Downloading|Using cached)\s+(\S+\.whl)", output)
    seen, out = set(), []
    for n in names:
        n = Path(n.split("/")[-1]).name
        if n not in seen:
            seen.add(n)
            out.append(n)
    return out


def check(req: str, dest: Path, platform: str = PLATFORM, python: str = PYTHON) -> tuple[bool, list[str], str]:
    cmd = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--platform", platform,
           "--only-binary=:all:", "--python-version", python, "--implementation", "cp", "-d", str(dest), req]
    r = subprocess.run(cmd, capture_output=True, text=True)
    text = r.stdout + r.stderr
    return r.returncode == 0, _wheels(text), text


def platform_ok(wheel: str) -> bool:
    """A wheel that runs on aarch64: pure Python (any) or an aarch64 platform tag."""
    tag = wheel[:-4].split("-")[-1]
    return tag == "any" or all("aarch64" in t for t in tag.split("."))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m liveai.box.aarch64_check", description=__doc__.split("\n\n")[0])
    ap.add_argument("--dest", help="keep the wheels in this directory")
    ap.add_argument("--platform", default=PLATFORM)
    ap.add_argument("--python", default=PYTHON)
    ap.add_argument("--installed", action="store_true", help="pin each dependency to the version installed here")
    args = ap.parse_args(argv)
    reqs = runtime_requirements()
    if args.installed:
        reqs = [pin_installed(r) for r in reqs]
    tmp = None
    if args.dest:
        dest = Path(args.dest)
        dest.mkdir(parents=True, exist_ok=True)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="liveai-aarch64-")
        dest = Path(tmp.name)
    print(f"aarch64 check: {len(reqs)} runtime dependencies, platform {args.platform}, CPython {args.python}")
    failed = []
    for req in reqs:
        ok, wheels, text = check(req, dest, args.platform, args.python)
        bad = [w for w in wheels if not platform_ok(w)]
        if ok and not bad:
            top = wheels[0] if wheels else "(already downloaded)"
            extra = f" (+{len(wheels) - 1} dependencies)" if len(wheels) > 1 else ""
            print(f"  ok    {req:22} {top}{extra}")
        else:
            failed.append(req)
            why = f"not aarch64: {', '.join(bad)}" if bad else (text.strip().splitlines() or ["?"])[-1]
            print(f"  FAIL  {req:22} {why}")
    all_wheels = sorted(p.name for p in dest.glob("*.whl"))
    print(f"{len(all_wheels)} wheels in all: " + ", ".join(all_wheels))
    if tmp:
        tmp.cleanup()
    print("aarch64 check: " + ("every runtime dependency resolves" if not failed else f"FAILED: {', '.join(failed)}"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
