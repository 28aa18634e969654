"""What ``replyd run`` executes, and nothing else: the daemon (lifecycle, fetching and
backpressure, rebalances), publishing and commits, the codec and partitioner, the engine factory
and the metered engine, metrics and health. It never imports ``daemon.tools``."""
