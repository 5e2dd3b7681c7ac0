#!/bin/sh
# The main job on a fresh Debian 12 machine, as root: install ocfkit and its agents, then run
# ocf:ocfkit:Dummy through ocf-tester and through Pacemaker's crm_resource --force-* with a
# file-backed CIB (no cluster needed). Everything it creates lives in a temporary directory.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/setup.sh"
work=$(mktemp -d /tmp/ocfkit-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT INT TERM
agent=/usr/lib/ocf/resource.d/ocfkit/Dummy

echo "== ocf-tester on $agent"
ocf-tester -n demo -o state="$work/dummy.state" "$agent"
OCF_RESKEY_state="$work/dummy.state" OCF_RESOURCE_INSTANCE=demo "$agent" stop   # ocf-tester leaves it started

echo "== crm_resource --force-* with a file-backed CIB"
cibadmin --empty > "$work/cib.xml"
export CIB_file="$work/cib.xml"
cibadmin -C -o resources -X "<primitive id=\"p_dummy\" class=\"ocf\" provider=\"ocfkit\" type=\"Dummy\">
  <instance_attributes id=\"p_dummy-ia\"><nvpair id=\"p_dummy-state\" name=\"state\" value=\"$work/crm.state\"/></instance_attributes>
</primitive>"
crm_resource --validate -r p_dummy
crm_resource -r p_dummy --force-check || echo "(rc $? = not running, as expected)"
crm_resource -r p_dummy --force-start
crm_resource -r p_dummy --force-check
crm_resource -r p_dummy --force-stop
test ! -e "$work/crm.state"
echo "== ocfkit run, by hand"
ocfkit run Dummy monitor state="$work/crm.state" || true
echo "demo finished: Dummy passed ocf-tester and ran under crm_resource"
