# Shared by scripts/test, scripts/demo and the benchmark drivers. Sourced,
# not run. Finds the repository from its own location.
SP_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# Debian packages the build, the tests and the demo need.
SP_PACKAGES=(cmake gcc make pkg-config libgrpc-dev libprotobuf-c-dev protobuf-c-compiler
             librocksdb-dev libcmocka-dev libjansson-dev zlib1g-dev libmimalloc-dev chrony jq)

sp_log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs whatever is missing, quietly and non-interactively. A second run
# installs nothing (it only asks dpkg).
sp_install_deps() {
    local missing=() p
    for p in "${SP_PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
            missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" -ne 0 ]; then
        echo "missing Debian packages: ${missing[*]}; run as root or install them" >&2
        return 1
    fi
    sp_log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# sp_build DIR [cmake args...]: configure and build into DIR.
sp_build() {
    local dir=$1; shift
    cmake -S "$SP_ROOT" -B "$dir" -DCMAKE_EXPORT_COMPILE_COMMANDS=ON "$@" >/dev/null
    cmake --build "$dir" -j"$(nproc)" >/dev/null
}
