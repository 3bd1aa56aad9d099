"""Fleet file transfer over PSRP: `copy` pushes a local file to every host, `fetch` pulls."""
