#!/usr/bin/env bash
# cmake --install puts libspanner, its header and a pkg-config file in a
# prefix; a program compiled only from `pkg-config --cflags --libs libspanner`
# links, runs, and gets a clear error from an endpoint that is not there.
set -euo pipefail
build=$1
prefix=$(mktemp -d)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
cat > "$prefix/example.c" <<'C'
#include <spanner.h>
#include <stdio.h>
#include <string.h>
int main(void)
{
    struct sp_client *c;
    struct sp_err e = {0};
    struct sp_client_options o = {.endpoints = "127.0.0.1:1", .timeout_ms = 500};
    int rc = sp_client_open(&o, &c, &e);
    printf("%s: %s\n", sp_errname(rc), e.msg);
    return rc == SP_ESP_UNAVAILABLE && strstr(e.msg, "127.0.0.1:1") ? 0 : 1;
}
C
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig"
cc -std=c11 -Wall -Werror "$prefix/example.c" $(pkg-config --cflags --libs libspanner) \
   -o "$prefix/example"
LD_LIBRARY_PATH="$prefix/lib" "$prefix/example"
