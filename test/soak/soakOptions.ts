/** Consumer options shared by the soak's in-process consumers and its child-process consumer. */
export const consumerOptions = {
  batchSize: 100,
  maxWait: "20 millis",
  blockTime: "200 millis",
  // failed deliveries are retried once idle this long, by whichever consumer reclaims first; longer than
  // the Monitor's idle threshold (2 s), so the entries of a killed consumer are moved by the Monitor's
  // cleanup first (and reclaimed later only if the cleanup did not get to them)
  reclaim: { idle: "4 seconds", interval: "500 millis" },
  // 5% random failures: a message fails 20 deliveries in a row with p = 1e-26, so no dead letter is expected
  deadLetter: { maxDeliveries: 20 },
  // a killed consumer leaves its entries pending under its name: reclaim and the Monitor's cleanup take them
  removeOnShutdown: false
} as const
