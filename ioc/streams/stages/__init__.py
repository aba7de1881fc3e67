"""The worker's stages, each what one Faust agent does with its batch or message: readings →
alerts (readings.py, with the sensor statuses of sensor_status.py), alerts of neighbours →
composites (correlation.py), alerts and commands → incident versions (incidents.py), and
incident versions → the sinks (delivery.py). They know Faust only through what app.py hands
them: messages, tables and outputs."""
