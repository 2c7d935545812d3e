# Shared by scripts/up and scripts/test: install airdeck from the lock file into ./.venv.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UV_VERSION="0.13.9"

need_python() {
    if ! command -v python3 >/dev/null 2>&1; then
        echo "error: python3 (3.11) is required; install it and run this again" >&2
        exit 1
    fi
    if ! python3 -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)'; then
        echo "error: airdeck needs Python 3.11 (found $(python3 --version 2>&1)); put python3.11 first on PATH" >&2
        exit 1
    fi
    # 3.11.13 fixed tarfile's extraction flaws (CVE-2025-4517 and others). airdeck's restore does not rely
    # on them (it writes only allow-listed regular files itself), so an older 3.11 is a warning, not a stop.
    if ! python3 -c 'import sys; sys.exit(0 if sys.version_info[:3] >= (3, 11, 13) else 1)'; then
        echo "warning: $(python3 --version 2>&1) predates 3.11.13 (tarfile fixes for CVE-2025-4517); airdeck's" \
             "restore does not depend on them, but upgrade Python to 3.11.13 or later" >&2
    fi
}

uv_cmd() {
    if command -v uv >/dev/null 2>&1; then
        uv "$@"
    else
        python3 -m uv "$@"
    fi
}

install_python_deps() {
    need_python
    if ! command -v uv >/dev/null 2>&1 && ! python3 -m uv --version >/dev/null 2>&1; then
        echo "installing uv ${UV_VERSION} (the lock file's installer, checked against its pinned hashes)…" >&2
        # Only the exact wheels listed in uv-requirements.txt are accepted (pip refuses any other file).
        local pinned=(--quiet --require-hashes --only-binary=:all: -r "$REPO/scripts/uv-requirements.txt")
        grep -q "^uv==${UV_VERSION} " "$REPO/scripts/uv-requirements.txt" \
            || { echo "error: scripts/uv-requirements.txt does not pin uv ${UV_VERSION}" >&2; exit 1; }
        python3 -m pip install --user "${pinned[@]}" 2>/dev/null \
            || python3 -m pip install "${pinned[@]}"
    fi
    # An install without the dev group (scripts/up passes --no-dev) is inexact: it adds what the
    # platform needs and removes nothing, so it never uninstalls the test tools scripts/test installed;
    # scripts/test's exact install then finds nothing to do either. Both stay idempotent.
    # scripts/up also compiles every module to bytecode at install (about 40 s once on 2 cores, 1 s when
    # nothing changed), so a user's first `airdeck up` does not pay for it while starting the services.
    local inexact=()
    for arg in "$@"; do
        [ "$arg" = "--no-dev" ] && inexact=(--inexact --compile-bytecode)
    done
    (cd "$REPO" && uv_cmd sync --frozen --quiet "${inexact[@]}" "$@")
}
