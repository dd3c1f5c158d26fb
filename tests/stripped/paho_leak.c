/* A service on Eclipse Paho's C client (Debian's libpaho-mqtt3c, stripped): every allocation
 * of the library goes through its unexported heap-tracking wrapper (mymalloc, Heap.c).
 * Connects N clients to the broker, subscribes and publishes once each, and never
 * disconnects nor destroys them: each leaks its MQTTClient_create and connect state.
 * Usage: paho_leak URI N   (exit 1 if the broker is not there) */
#include <MQTTClient.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char** argv) {
  if (argc < 3) return 2;
  const int n = atoi(argv[2]);
  for (int i = 0; i < n; ++i) {
    MQTTClient client;
    char id[32];
    snprintf(id, sizeof id, "paho-leak-%d", i);
    if (MQTTClient_create(&client, argv[1], id, MQTTCLIENT_PERSISTENCE_NONE, NULL) !=
        MQTTCLIENT_SUCCESS) {
      return 1;
    }
    MQTTClient_connectOptions options = MQTTClient_connectOptions_initializer;
    options.connectTimeout = 5;
    if (MQTTClient_connect(client, &options) != MQTTCLIENT_SUCCESS) {
      fprintf(stderr, "paho_leak: cannot connect to %s\n", argv[1]);
      return 1;
    }
    MQTTClient_subscribe(client, "paho-leak/#", 0);
    MQTTClient_publish(client, "paho-leak/x", 5, "hello", 0, 0, NULL);
  }
  return 0;
}
