#!/usr/bin/env bash
# Fails when a file includes a header from a layer above its own (STYLE.md §1):
# app -> http, ws, auth, store, pubsub -> net, json -> core; client and bench beside app.
# It also checks that vendor headers stay inside their one folder.
set -u
cd "$(dirname "$0")/.."

declare -A allowed=(
    [core]="core"
    [json]="json core"
    [net]="net core"
    [http]="http net json core"
    [ws]="ws net json core"
    [auth]="auth json core"
    [store]="store net json core"
    [pubsub]="pubsub net json core"
    [client]="client http net json core"
    [bench]="bench client http net json core"
    [app]="app http ws auth store pubsub json net core"
    [bin]="bin app bench client http ws auth store pubsub json net core"
)
declare -A vendor=(
    ["uv.h"]="net pubsub client bench"
    ["wslay/wslay.h"]="ws"
    ["sqlite3.h"]="store"
    ["libpq-fe.h"]="store"
    ["llhttp.h"]="http client"
    ["jansson.h"]="json"
)

bad=0
while IFS= read -r f; do
    layer=$(echo "$f" | cut -d/ -f2)
    while IFS= read -r inc; do
        dep=${inc%%/*}
        [ "$dep" = "$inc" ] && continue
        if [[ " ${allowed[$layer]:-} " != *" $dep "* ]]; then
            echo "check-layers: $f includes \"$inc\" from layer above '$layer'" >&2
            bad=1
        fi
    done < <(sed -n 's/^#include "\([^"]*\)".*/\1/p' "$f")
    while IFS= read -r inc; do
        if [ -n "${vendor[$inc]:-}" ] && [[ " ${vendor[$inc]} " != *" $layer "* ]]; then
            echo "check-layers: $f includes <$inc>, which belongs to: ${vendor[$inc]}" >&2
            bad=1
        fi
    done < <(sed -n 's/^#include <\([^>]*\)>.*/\1/p' "$f")
done < <(find src -name '*.[ch]' | sort)
exit $bad
