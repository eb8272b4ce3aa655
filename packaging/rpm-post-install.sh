install -d -m 0700 /var/lib/zdm-backupd
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    systemctl enable --now zdm-backupd.service >/dev/null 2>&1 || :
fi
echo "zdm-backupd: the admin password is written at first start to /var/lib/zdm-backupd/admin-password (mode 0600)."
echo "zdm-backupd: keep copies of /var/lib/zdm-backupd/backup-key.txt and /var/lib/zdm-backupd/repo-auth.key away from this host:"
echo "zdm-backupd: a replacement host restores only after both are copied into its state directory."
