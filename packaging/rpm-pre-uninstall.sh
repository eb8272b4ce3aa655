# $1 = 0: the package is being removed (not upgraded).
if [ "$1" = 0 ] && [ -d /run/systemd/system ]; then
    systemctl disable --now zdm-backupd.service >/dev/null 2>&1 || :
fi
