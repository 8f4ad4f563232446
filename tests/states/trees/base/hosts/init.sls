{% for host, ip in salt['pillar.get']('cluster:nodes', {}) | dictsort %}
{{ host }}:
  host.present:
    - ip: {{ ip }}
    - clean: True
{% endfor %}
