#!/usr/bin/env bash
# Puts Fashion-MNIST (60k train / 10k test, 28x28, 10 classes) under DEST (default data/fashion_mnist)
# as the un-gzipped idx files that mmpretrain's FashionMNIST reads with download=False.
#
# Source: Debian's package `dataset-fashion-mnist` (no internet besides the Debian mirror). If apt is not
# available (not root, not Debian), say so and fall back to mmpretrain's own downloader.
set -euo pipefail
DEST="${1:-data/fashion_mnist}"
FILES=(train-images-idx3-ubyte train-labels-idx1-ubyte t10k-images-idx3-ubyte t10k-labels-idx1-ubyte)
log() { printf '[data %s] %s\n' "$(date +%H:%M:%S)" "$*"; }

have_all() { for f in "${FILES[@]}"; do [ -s "$DEST/$f" ] || return 1; done; }
if have_all; then log "Fashion-MNIST already in $DEST"; exit 0; fi
mkdir -p "$DEST"

if command -v apt-get >/dev/null && command -v dpkg >/dev/null; then
  if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
    log "installing Debian package dataset-fashion-mnist (31 MB)"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq dataset-fashion-mnist >/dev/null
  fi
  for f in "${FILES[@]}"; do
    src=$(dpkg -L dataset-fashion-mnist | grep -E "/$f(\.gz)?$" | head -n1)
    [ -n "$src" ] || { log "dataset-fashion-mnist has no $f"; exit 1; }
    case "$src" in
      *.gz) gunzip -c "$src" > "$DEST/$f.tmp" ;;
      *) cp "$src" "$DEST/$f.tmp" ;;
    esac
    mv "$DEST/$f.tmp" "$DEST/$f"
  done
else
  log "apt-get is not available: falling back to mmpretrain's FashionMNIST downloader (needs internet)"
  "${VENV:-.venv}/bin/python" -c "from mmpretrain.datasets import FashionMNIST as D; \
D(data_root='$DEST', split='train', download=True); D(data_root='$DEST', split='test', download=True)"
fi
have_all || { log "Fashion-MNIST files missing in $DEST"; exit 1; }
log "Fashion-MNIST ready in $DEST"
