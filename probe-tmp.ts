import { Connection } from 'rabbitmq-client';
import { execFileSync } from 'node:child_process';
const c = new Connection({ url: 'amqp://guest:guest@127.0.0.1:5672', noDelay: true, connectionName: 'probe-x' });
c.on('error', (e) => console.log('err event', e.message));
c.on('connection', () => console.log('connection event'));
await c.onConnect();
console.log(execFileSync('rabbitmqctl', ['list_connections', '-q', 'pid', 'name', 'client_properties']).toString());
await c.close();
