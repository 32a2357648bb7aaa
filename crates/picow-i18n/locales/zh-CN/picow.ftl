# picow 给人看的消息，简体中文。与 en/picow.ftl 的消息 id 和变量一一对应。
# 命令、参数和用户要输入的值（picow probe、--port、dialout……）保持原样，不翻译。

## 错误与报告

error-line = 错误：{ $message }
error-debug-hint = （想看技术细节，请加上 --debug 和 RUST_BACKTRACE=1 再运行一次）
panic-report =
    picow 崩溃了：这是 picow 的程序错误，不是你的操作问题。
    请把下面的内容和你运行的命令一起报告给我们，以便修复。

log-error = 错误：
log-warning = 警告：
log-info = 提示：
log-debug = 调试：

## picow serve：普通输出

serve-listening = picow serve：正在监听 { $proto } { $addrs }
serve-lan = 局域网地址：{ $ips }
serve-no-lan = 没有找到局域网地址：请把这台电脑连到开发板所用的 Wi-Fi 网络
serve-lan-virtual = { $ip }（{ $iface }，虚拟网卡）
serve-warning = 警告：{ $message }
serve-loopback-only = 只在 { $ip } 上监听：连 Wi-Fi 的开发板访问不到它（只有这台电脑上的程序可以，比如 picow sim）。去掉 --bind，或者 --bind 一个局域网地址。
serve-give-board = 把这个服务器地址告诉开发板：
serve-give-board-many = 把这个服务器地址告诉开发板（* = 最可能是这个）：
serve-kind-other = 其他
serve-client-row = #{ $id } { $peer } 连接于 { $since }  { $kind } 收 { $bytes_in } B，发 { $bytes_out } B
serve-connected = { $time } #{ $id } 已连接，来自 { $peer }
serve-picow = { $time } #{ $id } 是一块 PicoW
serve-picow-named = { $time } #{ $id } 是一块 PicoW，名字是 { $name }
serve-refused = { $time } 拒绝了 { $peer }：{ $reason }
serve-disconnected = { $time } #{ $id } 已断开：{ $reason }（收到 { $bytes_in } B，发送 { $bytes_out } B）
serve-reason-closed-by-peer = 对方关闭了连接
serve-reason-met = 期望都已满足
serve-reason-timeout = 超时
serve-reason-stopped = 服务器已停止
serve-reason-user = 被用户断开
serve-expect-seen = { $time } 第 { $n } 个期望 /{ $pattern }/ 已在 #{ $id } 看到
serve-no-clients = 没有已连接的客户端
serve-error = { $time } 错误：{ $message }
serve-timeout = 超时（--timeout）
serve-timeout-clients = { "  " }还在等待另外 { $n } 个客户端（--clients）
serve-timeout-unmet = { "  " }没有看到：/{ $pattern }/
serve-timeout-nothing = { "  " }没有收到任何文本
serve-timeout-last = { "  " }#{ $id } 最后发来的文本：{ $text }
serve-summary = 汇总：{ $clients } 个客户端，拒绝 { $refused } 个，收到 { $bytes_in } B，发送 { $bytes_out } B，用时 { $secs } 秒

## 串口

port-not-found = 找不到串口 { $path }；{ $present }。请用 `picow probe` 核对串口名（Windows 上是 COM3 这样的名字，COM10 起写成 \\.\COM10）；开发板刚复位或重新插拔过的话，串口名可能变了
port-present = 现有的串口：{ $ports }
port-none-present = 一个串口都没有：开发板插上了吗？要用能传数据的线（只能充电的线没有数据线）
port-no-board =
    没有找到乐鑫（Espressif）开发板（USB 303a:xxxx）。请用能传数据的 USB 线插上开发板（只能充电的线不会出现串口）；如果还是没有，按住 KEY（BOOT）键再插线。然后运行 `picow probe` 查看所有串口和它们后面是什么，或者用 --port 指定串口。{ $present }
port-ambiguous = 找到了好几块乐鑫开发板（{ $ports }）；请用 --port 选一块（`picow probe` 会告诉你哪块是哪块）
port-permission = 没有权限打开 { $path }；{ $hint }
port-permission-linux = 把自己加入 `dialout` 组（`sudo usermod -aG dialout $USER`，然后重新登录），或者安装 picow 的 udev 规则（把 contrib/99-picow.rules 复制到 /etc/udev/rules.d/，再运行 `sudo udevadm control --reload && sudo udevadm trigger`）
port-permission-windows = 可能有别的程序占用了这个串口，或者驱动拒绝访问；请关掉其他串口程序，再重新插拔开发板
port-permission-other = 请检查这个设备的权限
port-busy = 串口 { $path } 正被占用：另一个程序（{ $holders }）打开了它；请关掉那个程序再试
port-busy-windows = 网络调试助手、Thonny、PuTTY、Arduino IDE、串口助手或另一个 picow
port-busy-unix = 另一个串口监视器、espflash、串口终端或 ModemManager
port-other = 无法打开串口 { $path }：{ $reason }
port-list = 无法列出串口：{ $reason }

## 固件

fw-missing =
    没有找到 { $chip } 的 picow 固件（找过：{ $places }）。编译一次的方法：{ $command }；之后在任何目录下 picow 都能找到它。也可以用 --firmware ELF 指定
fw-missing-any =
    没有找到 picow 固件（找过：{ $places }）。核桃派PicoW（ESP32-S3）：{ $command }。ESP32-C3 或 C6 的板子：`cargo xtask fw build --chip esp32c3 --release`（或 esp32c6）。之后在任何目录下 picow 都能找到它。也可以用 --firmware ELF 指定
fw-s3-toolchain = 先安装一次乐鑫的 Rust 工具链（`cargo install espup --locked && espup install`，然后 `. $HOME/export-esp.sh`），再在 picow 仓库里运行 `cargo xtask fw build --chip esp32s3 --release`
fw-riscv-build = 在 picow 仓库里运行 `cargo xtask fw build --chip { $chip } --release`
fw-wrong-chip =
    芯片不匹配：{ $port } 上的开发板是 { $board }，但找到的固件是给 { $chips } 的（{ $paths }）。{ $board } 的固件：{ $command }；或者用 --firmware ELF 指定。没有写入任何内容
