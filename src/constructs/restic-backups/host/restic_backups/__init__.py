"""restic-backups, the ResticBackups construct's host tool, as modules. The entry script
restic-backups sits beside this package (source tree, fleet copy) or, on a ResticBackups
host, in /usr/local/sbin with this package in /usr/local/lib/restic-backups."""
