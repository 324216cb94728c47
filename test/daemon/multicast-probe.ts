/**
 * Whether this host delivers IPv4 multicast over loopback between two of its 127.0.0.x addresses,
 * checked the way the daemons use it: a receiver bound to the group and joined on 127.0.0.1, a
 * sender bound to 127.0.0.2 with IP_MULTICAST_IF 127.0.0.2 and TTL 0 (nothing leaves the host).
 * Tests that need multicast on loopback skip when this is false.
 */
import dgram from 'node:dgram';

/** A random organisation-local group (239.255.0.0/16), so that parallel runs do not share one. */
export function randomGroup(): string {
  const byte = () => 1 + Math.floor(Math.random() * 250);
  return `239.255.${byte()}.${byte()}`;
}

export async function multicastOnLoopback(): Promise<boolean> {
  const group = randomGroup();
  const rx = dgram.createSocket({ type: 'udp4', reuseAddr: true });
  const tx = dgram.createSocket({ type: 'udp4' });
  try {
    const bind = (s: dgram.Socket, port: number, address: string) =>
      new Promise<number>((resolve, reject) => {
        s.once('error', reject);
        s.bind(port, address, () => {
          s.off('error', reject);
          resolve(s.address().port);
        });
      });
    const port = await bind(rx, 0, group);
    rx.addMembership(group, '127.0.0.1');
    await bind(tx, 0, '127.0.0.2');
    tx.setMulticastInterface('127.0.0.2');
    tx.setMulticastTTL(0);
    tx.setMulticastLoopback(true);
    const got = new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 1000);
      rx.on('message', (m) => {
        if (m.toString() === 'ringcast-probe') {
          clearTimeout(timer);
          resolve(true);
        }
      });
    });
    tx.send('ringcast-probe', port, group);
    return await got;
  } catch {
    return false;
  } finally {
    rx.close();
    tx.close();
  }
}
