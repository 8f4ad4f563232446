{#- a node's base configuration, the way a saltstack-formulas user writes it #}
include:
  - sysctl
  - users
  - ntp
  - motd
  - hosts

node-configured:
  test.succeed_without_changes:
    - require:
      - sls: sysctl
      - sls: users
      - sls: ntp
