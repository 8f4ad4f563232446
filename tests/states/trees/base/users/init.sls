{#- users-formula style: one block per pillar user, groups first, keys after the user #}
{% set root = pillar.node.root %}
{% for name, user in salt['pillar.get']('users', {}) | dictsort %}
{% if user.get('absent') %}
{{ name }}:
  user.absent:
    - purge: True
{% continue %}
{% endif %}
{{ name }}_group:
  group.present:
    - name: {{ name }}
    - gid: {{ user.uid }}

{{ name }}_user:
  user.present:
    - name: {{ name }}
    - uid: {{ user.uid }}
    - gid: {{ user.uid }}
    - home: {{ root }}/home/{{ name }}
    - shell: {{ user.get('shell', '/bin/bash') }}
    - fullname: {{ user.fullname | yaml_dquote }}
    - require:
      - group: {{ name }}_group

{% for key in user.get('ssh_keys', []) %}
{{ name }}_key_{{ loop.index }}:
  ssh_auth.present:
    - user: {{ name }}
    - name: {{ key | yaml_encode }}
    - require:
      - user: {{ name }}_user
{% endfor %}

{% if user.get('sudo') %}
{{ root }}/sudoers.d/{{ name }}:
  file.managed:
    - source: salt://users/files/sudoer.jinja
    - template: jinja
    - context:
        user: {{ name }}
    - mode: '0440'
    - makedirs: True
    - check_cmd: grep -q NOPASSWD
    - require:
      - user: {{ name }}_user
{% endif %}
{% endfor %}
