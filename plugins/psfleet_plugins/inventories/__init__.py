"""Built-in inventory formats: plain host lists, Ansible YAML and Ansible INI.

Loaded only through the `psfleet.plugins` entry points, exactly like third-party formats.
"""
