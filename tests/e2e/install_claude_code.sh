#!/usr/bin/env bash
# Install the real Claude Code CLI (pinned) into tests/e2e/.claude-code/ for
# end-to-end tests. Idempotent: does nothing if the pinned version is already
# installed and runs. Prints the path of the working `claude` binary on stdout
# (all other output goes to stderr).
#
# The npm package ships its native binary in a per-platform optional dependency
# (@anthropic-ai/claude-code-linux-x64, ...) fetched from the npm registry; its
# postinstall (`node install.cjs`) only hard-links that binary over the
# placeholder bin/claude.exe. Nothing is downloaded from outside npm. We install
# with --ignore-scripts (so npm's allowScripts policy, whatever the npm version,
# can neither block nor prompt) and run install.cjs ourselves.
set -euo pipefail

CLAUDE_CODE_VERSION="${CLAUDE_CODE_VERSION:-2.1.332}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEST="${CLAUDE_CODE_DIR:-$HERE/.claude-code}"
BIN="$DEST/node_modules/.bin/claude"

log() { echo "[install_claude_code] $*" >&2; }

installed_ok() {
  [ -x "$BIN" ] || return 1
  local v
  v="$("$BIN" --version 2>/dev/null)" || return 1
  [[ "$v" == "$CLAUDE_CODE_VERSION "* ]]
}

if installed_ok; then
  log "already installed: $("$BIN" --version)"
  echo "$BIN"
  exit 0
fi

command -v npm >/dev/null || { log "npm not found (need Node >= 18)"; exit 1; }
mkdir -p "$DEST"
cat > "$DEST/package.json" <<JSON
{
  "name": "ai-proxy-e2e-claude-code",
  "private": true,
  "dependencies": {
    "@anthropic-ai/claude-code": "$CLAUDE_CODE_VERSION"
  },
  "allowScripts": {
    "@anthropic-ai/claude-code": true
  }
}
JSON

log "npm install @anthropic-ai/claude-code@$CLAUDE_CODE_VERSION into $DEST"
(
  cd "$DEST"
  npm install --no-audit --no-fund --no-save --save-exact \
    --include=optional --ignore-scripts --loglevel=error >&2
  # The postinstall, run explicitly: links the platform binary over bin/claude.exe.
  node node_modules/@anthropic-ai/claude-code/install.cjs >&2
)

if ! installed_ok; then
  # Fallback: use the platform package's binary directly.
  for p in "$DEST"/node_modules/@anthropic-ai/claude-code-*/claude; do
    if [ -x "$p" ] && "$p" --version >/dev/null 2>&1; then
      log "postinstall did not place the binary; using $p"
      ln -sf "$p" "$BIN"
      break
    fi
  done
fi

if ! installed_ok; then
  log "claude did not install correctly"; exit 1
fi
log "installed: $("$BIN" --version)"
echo "$BIN"
