"""The offline commands: the embedded broker, produce, demo, replay, bench, eval and its
baselines, corpora, and the customization commands (synth, train, adapters). They may import the
service; the service never imports them."""
