"""Shelly Plus 1PM / Pro (Gen2 RPC) power metering over MQTT.

`parse` reads the device's JSON frames (pure), `link` follows one switch through a broker,
`sim` is an MQTT client behaving as the device. Formats follow Shelly's Gen2 API docs
(RPC protocol, notifications, Switch component status).
"""
