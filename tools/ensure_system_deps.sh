#!/usr/bin/env bash
# Installs the Debian packages the project needs, only when something is missing.
set -euo pipefail
need=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }
have_file() { [ -e "$1" ]; }
have_cmd espeak-ng || need+=(espeak-ng)
have_file /usr/include/espeak-ng/speak_lib.h || need+=(libespeak-ng-dev)
have_cmd flite || need+=(flite)
have_cmd festival || need+=(festival)
have_file /usr/share/festival/voices/english/kal_diphone || need+=(festvox-kallpc16k)
have_file /usr/share/festival/voices/english/ked_diphone || need+=(festvox-kdlpc16k)
have_file /usr/share/festival/voices/us/cmu_us_slt_arctic_hts || need+=(festvox-us-slt-hts)
have_cmd ffmpeg || need+=(ffmpeg)
have_cmd sox || need+=(sox)
have_file /usr/lib/R/site-library/stringr/data/Rdata.rdb || need+=(r-cran-stringr)
have_file /usr/lib/R/site-library/janeaustenr || need+=(r-cran-janeaustenr)
have_file /usr/share/wordnet || need+=(wordnet-base)
for l in en es fr; do
  have_file "/usr/share/doc/asterisk-core-sounds-$l" || need+=("asterisk-core-sounds-$l")
  ls /usr/share/asterisk/sounds/*/ 2>/dev/null | grep -q . && \
    dpkg -s "asterisk-core-sounds-$l-g722" >/dev/null 2>&1 || need+=("asterisk-core-sounds-$l-g722")
done
have_cmd node || need+=(nodejs)
have_cmd npm || need+=(npm)
if [ ${#need[@]} -eq 0 ]; then exit 0; fi
echo "Installing Debian packages: ${need[*]}"
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
