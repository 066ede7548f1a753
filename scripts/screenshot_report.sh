#!/bin/sh
# Render a run's report page in headless Chromium and save a screenshot, to check it by eye.
#   scripts/screenshot_report.sh runs/quickstart-20261127-183740 report.png
# Needs chromium (Debian: apt install chromium). The page loads nothing from the network.
set -eu
run=$1
shot=${2:-report.png}
ganforge report "$run" -o "$run/report.html"
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size=1200,1800 \
    --screenshot="$shot" "file://$(realpath "$run/report.html")" 2>/dev/null
echo "screenshot: $shot"
