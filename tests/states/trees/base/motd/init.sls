{{ pillar.node.root }}/etc/motd:
  file.managed:
    - contents: |
        {{ salt['pillar.get']('motd:banner', 'Welcome') }} to {{ grains.id }}
        roles: {{ grains.roles | join(', ') }}; {{ salt['config.get']('motd:site', 'no site') }}
    - mode: 644
    - makedirs: True
