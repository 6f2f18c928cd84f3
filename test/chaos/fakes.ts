/**
 * The one place the chaos suite imports vendor fakes from. The fakes are moving into
 * `managers/<name>/test/` (issue 11); when they do, only these paths change.
 */
export { startHttpSink, type HttpSink, type SinkStep } from '../fakes/http-sink.ts';
export { startMarketoFake, type MarketoFake } from '../../managers/marketo-bulk-upload/test/marketo-fake.ts';
export { startSalesforceFake, type SalesforceFake } from '../../managers/salesforce-bulk/test/fake.ts';
export { startFakeSftpServer, type FakeSftpServer } from '../fakes/sftp-server.ts';
export { startAsyncOpsFake, type AsyncOpsFake } from '../../managers/async-http/test/fake.ts';
