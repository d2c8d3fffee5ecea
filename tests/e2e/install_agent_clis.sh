#!/usr/bin/env bash
# Install the real agent CLIs other than Claude Code, pinned, into tests/e2e/.agent-clis/ for
# the end-to-end tests: Codex CLI (@openai/codex) and gemini-cli (@google/gemini-cli).
# Idempotent: does nothing when the pinned versions are installed and run. Prints the bin
# directory on stdout (all other output goes to stderr).
#
# Codex's npm package is a small launcher (bin/codex.js) that runs the native binary of a
# per-platform optional dependency (@openai/codex-linux-x64 is an alias of
# @openai/codex@<version>-linux-x64), fetched from the npm registry like any dependency.
# gemini-cli is one bundled JavaScript file. Neither has install scripts; we install with
# --ignore-scripts all the same, so npm's allowScripts policy, whatever the npm version, can
# neither block nor prompt.
set -euo pipefail

CODEX_VERSION="${CODEX_VERSION:-0.171.0}"
GEMINI_CLI_VERSION="${GEMINI_CLI_VERSION:-0.61.0}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${AGENT_CLIS_DIR:-$HERE/.agent-clis}"
BIN_DIR="$DEST/node_modules/.bin"

log() { echo "[install_agent_clis] $*" >&2; }

installed_ok() {
  [ -x "$BIN_DIR/codex" ] && [ -x "$BIN_DIR/gemini" ] || return 1
  [[ "$("$BIN_DIR/codex" --version 2>/dev/null)" == "codex-cli $CODEX_VERSION" ]] || return 1
  [[ "$("$BIN_DIR/gemini" --version 2>/dev/null)" == "$GEMINI_CLI_VERSION" ]]
}

if installed_ok; then
  log "already installed: codex $CODEX_VERSION, gemini-cli $GEMINI_CLI_VERSION"
  echo "$BIN_DIR"
  exit 0
fi

command -v npm >/dev/null || { log "npm not found (need Node >= 20)"; exit 1; }
mkdir -p "$DEST"
cat > "$DEST/package.json" <<JSON
{
  "name": "ai-proxy-e2e-agent-clis",
  "private": true,
  "dependencies": {
    "@openai/codex": "$CODEX_VERSION",
    "@google/gemini-cli": "$GEMINI_CLI_VERSION"
  }
}
JSON

log "npm install @openai/codex@$CODEX_VERSION @google/gemini-cli@$GEMINI_CLI_VERSION into $DEST"
(
  cd "$DEST"
  npm install --no-audit --no-fund --no-save --save-exact \
    --include=optional --ignore-scripts --loglevel=error >&2
)

if ! installed_ok; then
  log "the CLIs did not install correctly"; exit 1
fi
log "installed: codex $CODEX_VERSION, gemini-cli $GEMINI_CLI_VERSION"
echo "$BIN_DIR"
