/** A complete, valid pipeline file; tests edit one line of it to provoke one issue. */
export const validPipelineText = `# yaml-language-server: $schema=../schemas/pipeline.schema.json
repositories:
  - name: cernvm-devel.example.org
    backend: embedded
    storage: /srv/ucvm/cernvm-devel.example.org
    keys: /etc/cvmfs/keys
    url: http://hepvm.example.org/cvmfs/cernvm-devel.example.org
  - name: cernvm-testing.example.org
    backend: embedded
    storage: /srv/ucvm/cernvm-testing.example.org
    keys: env:UCVM_TESTING_KEYS
  - name: cernvm-prod.example.org
    backend: cvmfs-server
    keys: /etc/cvmfs/keys
    rollingTag: HEAD5
channels:
  development: cernvm-devel.example.org
  testing: cernvm-testing.example.org
  production: cernvm-prod.example.org
sources:
  - uri: https://deb.debian.org/debian
    suite: bookworm
    components: [main, contrib]
    keyring: /usr/share/keyrings/debian-archive-keyring.gpg
  - uri: https://security.debian.org/debian-security
    suite: bookworm-security
    keyring: /usr/share/keyrings/debian-archive-keyring.gpg
pool: /srv/ucvm/pool
image:
  proxy: http://squid.example.org:3128;DIRECT
  cmdline: console=ttyS0
  output: dist/images
`;
