package board

// firstBootUnit runs firstboot.sh once, before the agent's first start.
const firstBootUnit = `# Tether first boot (Raspberry Pi OS). Written by ` + "`central board bundle`" + `.
# Runs once: the script removes its own enablement link when it succeeds.
[Unit]
Description=Tether first-boot setup
Before=tether-agent.service
After=local-fs.target
ConditionPathExists=!/var/lib/tether-agent/.firstboot-done

[Service]
Type=oneshot
ExecStart=/usr/local/lib/tether/firstboot.sh
RemainAfterExit=yes

[Install]
WantedBy=multi-user.target
`

// firstBootScript sets the host name to the node's name (so the device is
// recognisable on the site network), makes sure the data dir is private,
// and disables itself.
func firstBootScript(name string) string {
	return `#!/bin/sh
# Tether first boot (Raspberry Pi OS). Written by ` + "`central board bundle`" + `.
set -eu
NAME=` + shellQuote(name) + `
if [ -n "$NAME" ] && [ "$(cat /etc/hostname 2>/dev/null)" != "$NAME" ]; then
  echo "$NAME" > /etc/hostname
  if grep -q '^127\.0\.1\.1' /etc/hosts; then
    sed -i "s/^127\.0\.1\.1.*/127.0.1.1\t$NAME/" /etc/hosts
  else
    printf '127.0.1.1\t%s\n' "$NAME" >> /etc/hosts
  fi
  hostname "$NAME" || true
fi
mkdir -p /var/lib/tether-agent
chmod 0700 /var/lib/tether-agent
touch /var/lib/tether-agent/.firstboot-done
rm -f /etc/systemd/system/multi-user.target.wants/tether-firstboot.service
`
}

// shellQuote single-quotes s for sh.
func shellQuote(s string) string {
	out := "'"
	for _, r := range s {
		if r == '\'' {
			out += `'\''`
			continue
		}
		out += string(r)
	}
	return out + "'"
}
