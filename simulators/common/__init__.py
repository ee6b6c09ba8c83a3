"""What every simulated device shares: the sim clock, the site file, the physical world, MQTT."""
