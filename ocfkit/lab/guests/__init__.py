"""qemu guests running Debian's own kernel: image build (image), qemu driving (vm), topologies
(topology) and the Pacemaker cluster in Debian 13 guests (pcmk). See docs/guests.md."""
