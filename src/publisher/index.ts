/** `herald/publisher`: emit onto the gateways' bus from a backend service, no gateway needed. */
export { HeraldPublisher, type HeraldPublisherOptions } from './publisher.js';
export { connectNatsPublisher, type NatsPublisherOptions } from './nats-publisher.js';
export { connectAmqpPublisher, type AmqpPublisherOptions } from './amqp-publisher.js';
export { encodeEvents, type EncodedEvents } from '../protocol/event-encoder.js';
export type { Bus } from '../bus/bus.js';
export type { PublishEvent } from '../protocol/event.js';
export { BrokerAuthenticationError, BusUnavailableError, InvalidIdError } from '../errors.js';
export { InvalidEventError, type EventProblem } from '../protocol/validation-error.js';
