#!/usr/bin/env bash
# Apache Kafka for the test suite, from Maven Central: the jars named by scripts/kafka/pom.xml
# with the launchers of scripts/kafka/bin, assembled once into a Kafka home outside the
# repository (the layout of a release: bin/, libs/, config/). Prints that home's path.
#
#   scripts/fetch-kafka.sh            fetch unless the cache already holds this pom's jars
#   IOC_TEST_KAFKA_HOME=DIR ...       assemble it there instead of the user's cache
#
# Needs Java 17 and Maven (Debian: apt-get install default-jre-headless maven).
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
pom=$here/kafka/pom.xml
version=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$pom")
home=${IOC_TEST_KAFKA_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/ioc/kafka-$version}
# The stamp names what the home was assembled from: a changed pom or launcher fetches again.
stamp=$(cat "$pom" "$here"/kafka/bin/* "$here"/kafka/config/* | sha256sum | cut -c1-16)

if [ "$(cat "$home/.assembled" 2>/dev/null)" = "$stamp" ]; then
  echo "$home"
  exit 0
fi
for tool in java mvn; do
  command -v "$tool" >/dev/null || {
    echo "fetch-kafka: $tool is missing; on Debian: sudo scripts/install-test-deps.sh" >&2
    exit 1
  }
done
echo "fetch-kafka: Apache Kafka $version from Maven Central into $home" >&2
mkdir -p "$(dirname "$home")"
work=$(mktemp -d "$(dirname "$home")/.fetch.XXXXXX")
trap 'rm -rf "$work"' EXIT
mvn --batch-mode --quiet --file "$pom" dependency:copy-dependencies \
  -DincludeScope=runtime -DoutputDirectory="$work/libs" >&2
cp -r "$here/kafka/bin" "$here/kafka/config" "$work/"
echo "$stamp" > "$work/.assembled"
rm -rf "$home"
mv "$work" "$home"
trap - EXIT
echo "$home"
