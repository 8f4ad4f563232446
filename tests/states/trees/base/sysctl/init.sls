{% from "sysctl/map.jinja" import sysctl_settings with context %}
{% for param, value in sysctl_settings.params | dictsort %}
sysctl-present-{{ param }}:
  sysctl.present:
    - name: {{ param }}
    - value: {{ value }}
    - config: {{ sysctl_settings.config }}
{% endfor %}
