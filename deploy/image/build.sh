#!/bin/bash
# Builds kube-router's container image without a container daemon: a Debian bookworm root filesystem from
# mmdebstrap, the build host's Node binary, and this checkout's dist/, addon and production node_modules, assembled
# by umoci into an OCI image layout and archived as build/image/kube-router.oci.tar (tag kube-router:<version>
# only: one tag, so loaders that take an archive's single image need no tag argument, e.g. `kube-router-lab image
# load`). `make image` runs it after `npm run build`; deploy/image/README.md says what is inside.
#
# Incremental: the archive is rebuilt only when a hash of everything that goes into it changes; the Debian layer
# and the production node_modules are cached under build/image/cache by hashes of their own recipes.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RECIPE="$ROOT/deploy/image"
OUT="$ROOT/build/image"
CACHE="$OUT/cache"
ARCHIVE="$OUT/kube-router.oci.tar"
LAYOUT="$OUT/oci"
NODE_BIN=${NODE_BIN:-$(command -v node)}
PROTO_DIR=${GOBGP_PROTO_SOURCE:-/usr/share/gocode/src/github.com/osrg/gobgp/api}
PROTOS=(gobgp.proto attribute.proto capability.proto)
IMAGE_PROTO_DIR=/usr/local/share/kube-router/gobgp-api
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
# The release plus its point updates and security fixes.
SOURCES=("deb $MIRROR $SUITE main" "deb $MIRROR $SUITE-updates main" "deb $SECURITY_MIRROR $SUITE-security main")
# Besides the essential set: the tools kube-router runs (ip, iptables, ipset, nft, sysctl, modprobe), ipvsadm and
# conntrack for the operator, gobgp, the CNI plugins, and the libraries the copied node binary links
# (libstdc++6, libgcc-s1; libc6 is essential).
DEBIAN_PACKAGES=(iproute2 iptables ipset nftables ipvsadm conntrack kmod procps gobgpd containernetworking-plugins
  libstdc++6 libgcc-s1)
# Documentation, manuals and translations nobody reads in a container (copyright files stay). Quoted: they are
# dpkg's patterns, not the build host's files.
DPKG_EXCLUDES=('/usr/share/doc/*' '/usr/share/man/*' '/usr/share/info/*' '/usr/share/locale/*' '/usr/share/lintian/*'
  '/usr/share/bash-completion/*' '/usr/share/zsh/*')
DPKG_INCLUDES=('/usr/share/doc/*/copyright')

say() { echo "image: $*" >&2; }
die() { echo "image: $*" >&2; exit 1; }
hash_text() { sha256sum | cut -c1-16; }
# Paths and contents of files under $ROOT, as one digest.
hash_files() { (cd "$ROOT" && sha256sum "$@" | hash_text); }

check_prerequisites() {
  local tool proto
  for tool in mmdebstrap umoci npm; do
    command -v "$tool" >/dev/null || die "$tool is missing (make deps installs it)"
  done
  [[ -f "$ROOT/dist/src/cli/main.js" ]] || die "dist/ is missing: run npm run build first"
  [[ -f "$ROOT/build/Release/nlsock.node" ]] || die "build/Release/nlsock.node is missing: run npm run build first"
  for proto in "${PROTOS[@]}"; do
    [[ -f "$PROTO_DIR/$proto" ]] || die "$PROTO_DIR/$proto is missing (install golang-github-osrg-gobgp-dev on the build host)"
  done
  NODE_VERSION=$("$NODE_BIN" --version)
  "$NODE_BIN" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 18) ? 0 : 1)' ||
    die "$NODE_BIN is $NODE_VERSION; the image needs Node >= 20.18"
  VERSION=$("$NODE_BIN" -p 'require(process.argv[1]).version' "$ROOT/package.json")
}

compute_keys() {
  DEBIAN_KEY=$(printf '%s\n' "${SOURCES[@]}" merged-usr "${DEBIAN_PACKAGES[@]}" "${DPKG_EXCLUDES[@]}" "${DPKG_INCLUDES[@]}" | hash_text)
  MODULES_KEY=$(hash_files package.json package-lock.json)
  mapfile -t DIST_FILES < <(cd "$ROOT" && find dist/src -type f -name '*.js' | sort)
  INPUTS_KEY=$( {
    echo "$DEBIAN_KEY $MODULES_KEY $VERSION"
    hash_files "${DIST_FILES[@]}" build/Release/nlsock.node bin/kube-router.js deploy/image/build.sh \
      deploy/image/kube-router deploy/image/cni-install deploy/image/iptables-select
    (cd "$PROTO_DIR" && sha256sum "${PROTOS[@]}")
    sha256sum <"$NODE_BIN"
  } | hash_text)
}

# The Debian layer (cached): bookworm's essential set plus DEBIAN_PACKAGES, as mmdebstrap's tar.
debian_layer() {
  DEBIAN_TAR="$CACHE/debian-$DEBIAN_KEY.tar"
  [[ -f "$DEBIAN_TAR" ]] && return
  say "building the Debian root filesystem ($SUITE: essential + ${DEBIAN_PACKAGES[*]})"
  rm -f "$CACHE"/debian-*.tar
  local p dpkgopts=() include
  for p in "${DPKG_EXCLUDES[@]}"; do dpkgopts+=("--dpkgopt=path-exclude=$p"); done
  for p in "${DPKG_INCLUDES[@]}"; do dpkgopts+=("--dpkgopt=path-include=$p"); done
  include=$(IFS=,; echo "${DEBIAN_PACKAGES[*]}")
  # The merged-usr hook lays out /bin -> usr/bin itself, so usr-is-merged replaces usrmerge (and the perl it needs).
  # Its output goes to a log (apt's progress is long); the end of it is shown when it fails.
  mmdebstrap --mode=root --variant=essential --include="$include" "${dpkgopts[@]}" \
    --hook-dir=/usr/share/mmdebstrap/hooks/merged-usr \
    --customize-hook='rm -rf "$1"/var/cache/* "$1"/var/log/*.log "$1"/var/lib/apt/lists/*' \
    "$SUITE" "$WORK/debian.tar" "${SOURCES[@]}" >"$OUT/mmdebstrap.log" 2>&1 ||
    { tail -n 40 "$OUT/mmdebstrap.log" >&2; die "mmdebstrap failed (whole log: $OUT/mmdebstrap.log)"; }
  mv "$WORK/debian.tar" "$DEBIAN_TAR"
}

# Production node_modules (cached): npm ci --omit=dev in a copy of package.json and package-lock.json, so the
# checkout's (shared) node_modules is never touched. No install scripts: no production dependency needs one.
production_modules() {
  MODULES_DIR="$CACHE/modules-$MODULES_KEY"
  [[ -d "$MODULES_DIR/node_modules" ]] && return
  say "installing production node_modules from package-lock.json"
  rm -rf "$CACHE"/modules-*
  mkdir -p "$WORK/modules"
  cp "$ROOT/package.json" "$ROOT/package-lock.json" "$WORK/modules/"
  (cd "$WORK/modules" && npm ci --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error)
  mv "$WORK/modules" "$MODULES_DIR"
}

# The node layer: the build host's node binary (see README: nodesource's nodejs package, as Debian's is 18).
node_layer() {
  mkdir -p "$WORK/node/usr/local/bin"
  install -m 0755 "$NODE_BIN" "$WORK/node/usr/local/bin/node"
  local package
  package=$(dpkg-query -S "$(readlink -f "$NODE_BIN")" 2>/dev/null | cut -d: -f1 || true)
  NODE_ORIGIN=$( [[ -n "$package" ]] && dpkg-query -W -f='${Package} ${Version}' "$package" || echo 'not from a Debian package')
  layer_tar "$WORK/node" "$WORK/node.tar"
}

# The application layer: dist/src (no source maps), the addon, production modules, entrypoints, gobgp protos.
app_layer() {
  local app="$WORK/app" lib="$WORK/app/usr/local/lib/kube-router" proto
  mkdir -p "$lib/bin" "$lib/build/Release" "$app/usr/local/bin" "$app/usr/local/sbin" "$app$IMAGE_PROTO_DIR"
  (cd "$ROOT" && printf '%s\0' "${DIST_FILES[@]}" | xargs -0 cp --parents -t "$lib")
  cp "$ROOT/package.json" "$lib/"
  cp "$ROOT/bin/kube-router.js" "$lib/bin/"
  cp "$ROOT/build/Release/nlsock.node" "$lib/build/Release/"
  cp -a "$MODULES_DIR/node_modules" "$lib/"
  install -m 0755 "$RECIPE/kube-router" "$RECIPE/cni-install" "$app/usr/local/bin/"
  install -m 0755 "$RECIPE/iptables-select" "$app/usr/local/sbin/"
  for proto in "${PROTOS[@]}"; do install -m 0644 "$PROTO_DIR/$proto" "$app$IMAGE_PROTO_DIR/"; done
  printf 'kube-router %s\nnode %s (%s)\ngobgp protos from %s\n' "$VERSION" "$NODE_VERSION" "$NODE_ORIGIN" \
    "$(dpkg-query -S "$PROTO_DIR/gobgp.proto" 2>/dev/null | cut -d: -f1 || echo "$PROTO_DIR")" \
    >"$app/usr/local/share/kube-router/image-info"
  layer_tar "$app" "$WORK/app.tar"
}

# A layer tar of DIR's usr/ tree, owned by root (only usr/: / and the /bin -> usr/bin links stay the Debian layer's).
layer_tar() { tar --create --file "$2" --directory "$1" --owner=0 --group=0 --numeric-owner --sort=name usr; }

# The OCI layout: three layers (Debian, node, kube-router), the runtime config and the tag; then the archive.
assemble() {
  local layout="$WORK/oci" tag="kube-router:$VERSION"
  say "assembling the OCI image $tag"
  umoci init --layout "$layout"
  umoci new --image "$layout:$tag"
  umoci raw add-layer --image "$layout:$tag" --history.created_by "mmdebstrap $SUITE essential + ${DEBIAN_PACKAGES[*]}" "$DEBIAN_TAR"
  umoci raw add-layer --image "$layout:$tag" --history.created_by "node $NODE_VERSION ($NODE_ORIGIN)" "$WORK/node.tar"
  umoci raw add-layer --image "$layout:$tag" --history.created_by "kube-router $VERSION: dist, addon, node_modules, scripts" "$WORK/app.tar"
  umoci config --image "$layout:$tag" --no-history \
    --config.entrypoint /usr/local/bin/kube-router \
    --config.env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --config.env "KUBE_ROUTER_GOBGP_PROTO_DIR=$IMAGE_PROTO_DIR" \
    --config.workingdir / \
    --config.label "org.opencontainers.image.title=kube-router" \
    --config.label "org.opencontainers.image.version=$VERSION"
  umoci gc --layout "$layout"
  tar --create --file "$WORK/kube-router.oci.tar" --directory "$layout" oci-layout index.json blobs
  rm -rf "$LAYOUT"
  mv "$layout" "$LAYOUT"
  mv "$WORK/kube-router.oci.tar" "$ARCHIVE"
}

main() {
  check_prerequisites
  compute_keys
  if [[ -f "$ARCHIVE" && "$(cat "$OUT/inputs.key" 2>/dev/null)" == "$INPUTS_KEY" ]]; then
    say "$ARCHIVE is up to date"
    return
  fi
  local started=$SECONDS
  mkdir -p "$CACHE"
  WORK=$(mktemp -d "$OUT/work.XXXXXX")
  trap 'rm -rf "$WORK"' EXIT
  debian_layer
  production_modules
  node_layer
  app_layer
  assemble
  echo "$INPUTS_KEY" >"$OUT/inputs.key"
  local compressed uncompressed
  compressed=$(stat -c %s "$ARCHIVE")
  uncompressed=$(stat -c %s "$DEBIAN_TAR" "$WORK/node.tar" "$WORK/app.tar" | awk '{ s += $1 } END { print s }')
  say "wrote $ARCHIVE in $((SECONDS - started)) s: $((compressed / 1048576)) MiB (layers gzipped), $((uncompressed / 1048576)) MiB unpacked"
}

# Everything runs from functions, so bash has read the whole script before it starts (safe to edit mid-build).
main "$@"
exit
