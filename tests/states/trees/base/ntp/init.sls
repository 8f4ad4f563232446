{% from "./map.jinja" import ntp with context %}
ntp-conf:
  file.managed:
    - name: {{ pillar.node.root }}/etc/{{ ntp.conf }}
    - source: salt://{{ slspath }}/files/ntp.conf.jinja
    - template: jinja
    - makedirs: True
    - defaults:
        options: {{ ntp.options | join(' ') }}
    - context:
        servers: {{ ntp.servers | json }}

ntp-restart-marker:
  cmd.wait:
    - name: date +%s > {{ pillar.node.root }}/ntp.restarted
    - watch:
      - file: ntp-conf
