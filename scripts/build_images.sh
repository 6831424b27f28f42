#!/usr/bin/env bash
# make images: build the five service images from deploy/Dockerfile (one target each).
#
#   make images                                   # distill/<service>:<git short sha>
#   REGISTRY=ghcr.io/acme TAG=1.2.0 make images   # ghcr.io/acme/<service>:1.2.0
#   PUSH=1 REGISTRY=... make images               # and push them
#   SERVICES="gateway parser" make images         # a subset
#   DOCKER=podman make images                     # another engine (or buildah bud)
#
# Needs a container engine with BuildKit (Docker 23+, or podman). CI does not run it;
# tests/deploy/test_dockerfile.py lints the Dockerfile's structure instead.
set -euo pipefail
cd "$(dirname "$0")/.."

DOCKER=${DOCKER:-docker}
REGISTRY=${REGISTRY:-distill}
TAG=${TAG:-$(git rev-parse --short HEAD 2>/dev/null || echo dev)}
SERVICES=${SERVICES:-gateway parser ai notion notifier}
PUSH=${PUSH:-0}

if ! command -v "$DOCKER" >/dev/null 2>&1; then
  echo "build_images: '$DOCKER' not found; install Docker (or set DOCKER=podman)" >&2
  exit 2
fi

for svc in $SERVICES; do
  case "$svc" in
    gateway | parser | ai | notion | notifier) ;;
    *) echo "build_images: unknown service '$svc' (gateway parser ai notion notifier)" >&2; exit 2 ;;
  esac
  image="$REGISTRY/$svc:$TAG"
  echo "==> $image"
  DOCKER_BUILDKIT=1 "$DOCKER" build -f deploy/Dockerfile --target "$svc" -t "$image" .
  if [ "$PUSH" = "1" ]; then
    "$DOCKER" push "$image"
  fi
done

echo "built: $(for s in $SERVICES; do printf '%s ' "$REGISTRY/$s:$TAG"; done)"
echo "deploy them: cd deploy/kubernetes/overlays/prod && kustomize edit set image distill/gateway=$REGISTRY/gateway:$TAG ..."
